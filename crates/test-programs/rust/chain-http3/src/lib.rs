//! The HTTP front of a WASI 0.3 chain: a `wasi:http` 0.3 handler whose `hop` import is a
//! runtime link to the next component.
//!
//! - `.../call?n=N`: N chained calls one after another; answers the last result.
//! - `.../pair?ms=M`: two `slow(M)` calls awaited at once; answers both and the time taken.

mod front {
    wit_bindgen::generate!({
        path: "../../../../wit/chain",
        world: "wasmhub:chain/front",
    });
}

use front::wasmhub::chain::hop;
use wasip3::http::types::{ErrorCode, Fields, Request, Response};
use wasip3::{wit_bindgen, wit_future, wit_stream};

struct Front;

wasip3::http::service::export!(Front);

/// The value of `key` in the query of `path`, parsed, or `default`.
fn param(path: &str, key: &str, default: u32) -> u32 {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(default)
}

async fn answer(path: &str) -> String {
    let route = path.split('?').next().unwrap_or_default();
    if route.ends_with("/pair") {
        let ms = param(path, "ms", 300);
        let t0 = wasip3::clocks::monotonic_clock::now();
        let (a, b) = futures::join!(hop::slow(ms, "a".into()), hop::slow(ms, "b".into()));
        let took = (wasip3::clocks::monotonic_clock::now() - t0) / 1_000_000;
        format!("{a}; {b}; both in {took} ms\n")
    } else {
        let mut last = String::new();
        for _ in 0..param(path, "n", 1) {
            last = hop::call("front".into()).await;
        }
        last
    }
}

impl wasip3::exports::http::handler::Guest for Front {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let path = request.get_path_with_query().unwrap_or_default();
        let body = answer(&path).await;
        let (mut tx, rx) = wit_stream::new();
        let (trailers, trailers_rx) = wit_future::new(|| Ok(None));
        drop(trailers);
        let (response, _sent) = Response::new(Fields::new(), Some(rx), trailers_rx);
        wit_bindgen::spawn_local(async move {
            tx.write_all(body.into_bytes()).await;
        });
        Ok(response)
    }
}
