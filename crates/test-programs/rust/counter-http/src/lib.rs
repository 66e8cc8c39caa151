//! `counter-http`: a global counter, bumped per request; `1` every time proves isolation.

use std::sync::atomic::{AtomicU64, Ordering};

use wasip2::http::types::{IncomingRequest, ResponseOutparam};

static COUNTER: AtomicU64 = AtomicU64::new(0);

struct Counter;

impl wasip2::exports::http::incoming_handler::Guest for Counter {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst) + 1;
        // Also prove the log path: this line reaches the host's log with the request id.
        eprintln!("counter-http: count is {n}");
        guest_support::answer(out, 200, &n.to_string());
    }
}

wasip2::http::proxy::export!(Counter);
