//! The end of a WASI 0.3 chain: `call` wraps its text once, `slow` waits on the 0.3 clock.

wit_bindgen::generate!({
    path: "../../../../wit/chain",
    world: "wasmhub:chain/end",
});

use exports::wasmhub::chain::hop::Guest;

struct End;

impl Guest for End {
    async fn call(text: String) -> String {
        format!("end({text})")
    }

    async fn slow(ms: u32, label: String) -> String {
        wasip3::clocks::monotonic_clock::wait_for(u64::from(ms) * 1_000_000).await;
        format!("{label} after {ms} ms")
    }
}

export!(End);
