//! `misbehave-http3`: a WASI 0.3 handler that fails in the way its path names, on either side
//! of its response head.
//!
//! The last path segment:
//! - `trap`: panics before it returns a response;
//! - `spin`: loops before it returns a response (until a budget stops it);
//! - `partial`: answers 200, streams `partial\n`, waits 200 ms and until the request body
//!   has ended (the client decides when), ends its own body, then panics;
//! - `drip`: answers 200 and streams `tick\n` every 100 ms, forever;
//! - anything else answers `ok`.

use wasip3::http::types::{ErrorCode, Fields, Request, Response};
use wasip3::{wit_bindgen, wit_future, wit_stream};

struct Misbehave;

wasip3::http::service::export!(Misbehave);

#[inline(never)]
fn spin_forever() -> u64 {
    let mut x: u64 = 0;
    loop {
        x = core::hint::black_box(x.wrapping_add(1));
    }
}

impl wasip3::exports::http::handler::Guest for Misbehave {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let path = request.get_path_with_query().unwrap_or_default();
        let path = path.split_once('?').map_or(path.as_str(), |(p, _)| p);
        let action = path.rsplit('/').next().unwrap_or_default().to_owned();
        match action.as_str() {
            "trap" => panic!("misbehave-http3: trapping before the response, as asked"),
            "spin" => {
                spin_forever();
            }
            _ => {}
        }
        let (mut body, body_rx) = wit_stream::new();
        let (trailers, trailers_rx) = wit_future::new(|| Ok(None));
        let (response, _sent) = Response::new(Fields::new(), Some(body_rx), trailers_rx);
        match action.as_str() {
            "partial" => {
                let (_done, done_rx) = wit_future::new(|| Ok(()));
                let (mut incoming, _trailers) = Request::consume_body(request, done_rx);
                wit_bindgen::spawn_local(async move {
                    body.write_all(b"partial\n".to_vec()).await;
                    // The response is out before this task runs; a client that sends its body
                    // only once it has read the part above makes sure it has arrived.
                    wasip3::clocks::monotonic_clock::wait_for(200_000_000).await;
                    while incoming.next().await.is_some() {}
                    drop(body);
                    drop(trailers);
                    panic!("misbehave-http3: trapping after the body, as asked");
                });
            }
            "drip" => {
                drop(trailers);
                wit_bindgen::spawn_local(async move {
                    loop {
                        body.write_all(b"tick\n".to_vec()).await;
                        wasip3::clocks::monotonic_clock::wait_for(100_000_000).await;
                    }
                });
            }
            _ => {
                drop(trailers);
                wit_bindgen::spawn_local(async move {
                    body.write_all(b"ok".to_vec()).await;
                });
            }
        }
        Ok(response)
    }
}
