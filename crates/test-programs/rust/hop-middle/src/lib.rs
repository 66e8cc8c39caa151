//! A hop in the middle of a WASI 0.3 chain: serves `hop` by awaiting the next hop (a runtime
//! link to another component), wrapping what it answers.

wit_bindgen::generate!({
    path: "../../../../wit/chain",
    world: "wasmhub:chain/middle",
});

use exports::wasmhub::chain::hop::Guest;
use wasmhub::chain::hop as next;

struct Middle;

impl Guest for Middle {
    async fn call(text: String) -> String {
        format!("middle({})", next::call(text).await)
    }

    async fn slow(ms: u32, label: String) -> String {
        next::slow(ms, label).await
    }
}

export!(Middle);
