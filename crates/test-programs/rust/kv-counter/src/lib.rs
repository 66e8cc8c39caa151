//! `kv-counter`: the demo's persistent counter. Each request adds one to the key `hits` of
//! the store `default` (`wasi:keyvalue@0.2.0-draft2`) and answers `count is N`, so every
//! component of the app granted `default` counts on the same counter, across restarts.

wit_bindgen::generate!({
    inline: "
        package wasmhub:kv-counter;
        world kv-counter {
            import wasi:keyvalue/atomics@0.2.0-draft2;
        }
    ",
    path: ["../../../../wit/deps/keyvalue-0.2.0-draft2"],
    world: "wasmhub:kv-counter/kv-counter",
    generate_all,
});

use wasi::keyvalue::atomics;
use wasi::keyvalue::store::{self, Error};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct Counter;

impl wasip2::exports::http::incoming_handler::Guest for Counter {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let counted = store::open("default").and_then(|b| atomics::increment(&b, "hits", 1));
        match counted {
            Ok(n) => guest_support::answer(out, 200, &format!("count is {n}\n")),
            Err(Error::AccessDenied) => guest_support::answer(
                out,
                403,
                "access-denied: grant keyvalue = [\"default\"] to count\n",
            ),
            Err(Error::NoSuchStore) => guest_support::answer(out, 404, "no-such-store\n"),
            Err(Error::Other(m)) => guest_support::answer(out, 500, &format!("other: {m}\n")),
        }
    }
}

wasip2::http::proxy::export!(Counter);
