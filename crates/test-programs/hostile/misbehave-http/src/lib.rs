//! `misbehave-http`: fails in the way its path names, to prove a guest hurts only its own request.
//!
//! The last path segment: `trap`, `loop`, `grow` (memory until the cap), `no-response`, `twice`,
//! `sleep` (1 s); anything else answers `ok`.

use guest_support::answer;
use wasip2::http::types::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};

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
            "sleep" => {
                wasip2::clocks::monotonic_clock::subscribe_duration(1_000_000_000).block();
                answer(out, 200, "slept");
            }
            _ => answer(out, 200, "ok"),
        }
    }
}

wasip2::http::proxy::export!(Misbehave);
