//! `kv-bench`: the guest `cargo xtask bench kv` drives through `wasmhub serve`
//! (`wasi:keyvalue/store@0.2.0-draft2`, store `default`).
//!
//! - `/get-loop?n=N&key=K`: opens `default` once, makes N `get`s of K, answers the hits.
//! - `/noop-loop?n=N&key=K`: the same loop (the key string made, the result looked at)
//!   without the `get`, so the guest's own loop cost can be subtracted; answers N.
//! - `/set?key=K`: one durable `set` of K to the body; answers `ok`.
//!
//! A store error answers 403 `access-denied`, 404 `no-such-store` or 500 `other: MESSAGE`.

wit_bindgen::generate!({
    inline: "
        package wasmhub:kv-bench;
        world kv-bench {
            import wasi:keyvalue/store@0.2.0-draft2;
        }
    ",
    path: ["../../../../wit/deps/keyvalue-0.2.0-draft2"],
    world: "wasmhub:kv-bench/kv-bench",
    generate_all,
});

use std::hint::black_box;

use guest_support::answer;
use guest_support::request::{Target, body};
use wasi::keyvalue::store::{self, Error};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct KvBench;

impl wasip2::exports::http::incoming_handler::Guest for KvBench {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let target = Target::of(&request);
        let body = body(request);
        match route(&target, body) {
            Ok((status, text)) => answer(out, status, &text),
            Err(e) => {
                let (status, text) = match e {
                    Error::AccessDenied => (403, "access-denied".to_owned()),
                    Error::NoSuchStore => (404, "no-such-store".to_owned()),
                    Error::Other(m) => (500, format!("other: {m}")),
                };
                answer(out, status, &text);
            }
        }
    }
}

wasip2::http::proxy::export!(KvBench);

fn route(t: &Target, body: Vec<u8>) -> Result<(u16, String), Error> {
    let n = t.number("n", 1u64);
    let key = t.param_or("key", "key");
    match t.action() {
        "get-loop" => {
            let bucket = store::open("default")?;
            let mut hits = 0u64;
            for _ in 0..n {
                if bucket.get(&key_of(key))?.is_some() {
                    hits += 1;
                }
            }
            Ok((200, hits.to_string()))
        }
        "noop-loop" => {
            let mut seen = 0u64;
            for _ in 0..n {
                // What the get loop does around each call: the key made, the answer looked at.
                if black_box(Some(key_of(key))).is_some() {
                    seen += 1;
                }
            }
            Ok((200, seen.to_string()))
        }
        "set" => {
            store::open("default")?.set(key, &body)?;
            Ok((200, "ok".to_owned()))
        }
        other => Ok((400, format!("unknown action {other:?}"))),
    }
}

/// The key string each iteration builds (an owned copy, as a real handler would make).
fn key_of(key: &str) -> String {
    black_box(key).to_owned()
}
