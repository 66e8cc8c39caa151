//! `misbehave-http`: fails in the way its path names, to prove a guest hurts only its own request.
//!
//! The last path segment: `trap`, `loop`, `grow` (memory until the cap), `no-response`, `twice`,
//! `sleep` (1 s), `partial` (answers 200, streams `partial\n`, waits 200 ms and until the
//! request body has ended, ends its own body, then traps); anything else answers `ok`.

use guest_support::answer;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

struct Misbehave;

#[inline(never)]
fn spin_forever() -> u64 {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

impl wasip2::exports::http::incoming_handler::Guest for Misbehave {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let path = path.split_once('?').map_or(path.as_str(), |(p, _)| p);
        // The last segment names the behaviour, whatever route prefix the app gives.
        let action = path.rsplit('/').next().unwrap_or_default();
        match action {
            "trap" => panic!("misbehave-http: trapping as asked"),
            "loop" => {
                spin_forever();
            }
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                }
            }
            "no-response" => {}
            "twice" => {
                let first = OutgoingResponse::new(Fields::new());
                let out2 = unsafe { std::ptr::read(&out) };
                ResponseOutparam::set(out, Ok(first));
                ResponseOutparam::set(out2, Ok(OutgoingResponse::new(Fields::new())));
            }
            "partial" => {
                let response = OutgoingResponse::new(Fields::new());
                let body = response.body().unwrap();
                ResponseOutparam::set(out, Ok(response));
                let output = body.write().unwrap();
                output.blocking_write_and_flush(b"partial\n").unwrap();
                // Waiting here hands the response to the host before this guest fails; a
                // client that sends its body only once it has read the part above makes sure.
                wasip2::clocks::monotonic_clock::subscribe_duration(200_000_000).block();
                let incoming = request.consume().unwrap();
                let input = incoming.stream().unwrap();
                while !matches!(input.blocking_read(4096), Err(StreamError::Closed)) {}
                drop(output);
                OutgoingBody::finish(body, None).unwrap();
                panic!("misbehave-http: trapping after the body, as asked");
            }
            "sleep" => {
                wasip2::clocks::monotonic_clock::subscribe_duration(1_000_000_000).block();
                answer(out, 200, "slept");
            }
            _ => answer(out, 200, "ok"),
        }
    }
}

wasip2::http::proxy::export!(Misbehave);
