//! `counter-http`: a global counter, bumped per request; `1` every time proves isolation.
//! A path ending in `/trap` bumps the counter, then panics before it answers.

use std::sync::atomic::{AtomicU64, Ordering};

use wasip2::http::types::{IncomingRequest, ResponseOutparam};

static COUNTER: AtomicU64 = AtomicU64::new(0);

struct Counter;

impl wasip2::exports::http::incoming_handler::Guest for Counter {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst) + 1;
        if request
            .path_with_query()
            .is_some_and(|p| p.ends_with("/trap"))
        {
            panic!("counter-http: trapping at count {n}, as asked");
        }
        // Also prove the log path: this line reaches the host's log with the request id.
        eprintln!("counter-http: count is {n}");
        guest_support::answer(out, 200, &n.to_string());
    }
}

wasip2::http::proxy::export!(Counter);
