//! A wasi:http 0.3 handler: `Hello, wasm!` at once, or on `.../stream` three chunks 100 ms
//! apart (the body streams after the handler has returned its response); `.../spin` never ends.

use wasip3::http::types::{ErrorCode, Fields, Request, Response};
use wasip3::{wit_bindgen, wit_future, wit_stream};

struct Handler;

wasip3::http::service::export!(Handler);

impl wasip3::exports::http::handler::Guest for Handler {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let path = request.get_path_with_query().unwrap_or_default();
        let (mut body, body_rx) = wit_stream::new();
        let (trailers, trailers_rx) = wit_future::new(|| Ok(None));
        let headers = Fields::from_list(&[("content-type".into(), b"text/plain".to_vec())])
            .map_err(|_| ErrorCode::InternalError(Some("bad header".into())))?;
        let (response, _sent) = Response::new(headers, Some(body_rx), trailers_rx);
        drop(trailers);
        wit_bindgen::spawn_local(async move {
            if path.ends_with("/stream") {
                for i in 0..3 {
                    body.write_all(format!("chunk {i}\n").into_bytes()).await;
                    wasip3::clocks::monotonic_clock::wait_for(100_000_000).await;
                }
            } else if path.ends_with("/spin") {
                let mut x = 0u64;
                loop {
                    x = core::hint::black_box(x.wrapping_add(1));
                }
            } else {
                body.write_all(b"Hello, wasm!".to_vec()).await;
            }
        });
        Ok(response)
    }
}
