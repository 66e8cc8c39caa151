//! `counter-http3`: a WASI 0.3 handler with a global counter, bumped per request and
//! answered as the body: `1` every time proves a fresh instance per request. A path ending
//! in `/trap` bumps the counter, then panics before it answers.

use std::sync::atomic::{AtomicU64, Ordering};

use wasip3::http::types::{ErrorCode, Fields, Request, Response};
use wasip3::{wit_bindgen, wit_future, wit_stream};

static COUNTER: AtomicU64 = AtomicU64::new(0);

struct Counter;

wasip3::http::service::export!(Counter);

impl wasip3::exports::http::handler::Guest for Counter {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst) + 1;
        let path = request.get_path_with_query().unwrap_or_default();
        if path.ends_with("/trap") {
            panic!("counter-http3: trapping at count {n}, as asked");
        }
        let (mut body, body_rx) = wit_stream::new();
        let (trailers, trailers_rx) = wit_future::new(|| Ok(None));
        let (response, _sent) = Response::new(Fields::new(), Some(body_rx), trailers_rx);
        drop(trailers);
        wit_bindgen::spawn_local(async move {
            body.write_all(n.to_string().into_bytes()).await;
        });
        Ok(response)
    }
}
