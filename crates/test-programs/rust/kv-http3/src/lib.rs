//! A wasi:http 0.3 handler that counts with `wasi:keyvalue@0.2.0-draft2` (store
//! `default`, key `hits`) and greets with `wasi:config` key `greeting`: `GREETING N`.

wit_bindgen::generate!({
    inline: "
        package wasmhub:kv-http3;
        world kv-http3 {
            import wasi:keyvalue/store@0.2.0-draft2;
            import wasi:keyvalue/atomics@0.2.0-draft2;
            import wasi:config/store@0.2.0-rc.1;
        }
    ",
    path: ["../../../../wit/deps/keyvalue-0.2.0-draft2", "../../../../wit/deps/config-0.2.0-rc.1"],
    world: "wasmhub:kv-http3/kv-http3",
    generate_all,
});

use wasip3::http::types::{ErrorCode, Fields, Request, Response};
use wasip3::{wit_future, wit_stream};

struct Handler;

wasip3::http::service::export!(Handler);

/// The greeting and the new count, or the error's text.
fn count() -> String {
    let greeting = wasi::config::store::get("greeting")
        .ok()
        .flatten()
        .unwrap_or_else(|| "hello".into());
    let bucket = match wasi::keyvalue::store::open("default") {
        Ok(b) => b,
        Err(e) => return format!("open: {e:?}"),
    };
    match wasi::keyvalue::atomics::increment(&bucket, "hits", 1) {
        Ok(n) => format!("{greeting} {n}"),
        Err(e) => format!("increment: {e:?}"),
    }
}

impl wasip3::exports::http::handler::Guest for Handler {
    async fn handle(_request: Request) -> Result<Response, ErrorCode> {
        let text = count();
        let (mut body, body_rx) = wit_stream::new();
        let (trailers, trailers_rx) = wit_future::new(|| Ok(None));
        let headers = Fields::from_list(&[("content-type".into(), b"text/plain".to_vec())])
            .map_err(|_| ErrorCode::InternalError(Some("bad header".into())))?;
        let (response, _sent) = Response::new(headers, Some(body_rx), trailers_rx);
        drop(trailers);
        wit_bindgen::spawn_local(async move {
            body.write_all(text.into_bytes()).await;
        });
        Ok(response)
    }
}
