//! `hello-http`: answers every request with the 12-byte body `Hello, wasm!` (the benchmark guest).

use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        guest_support::answer(out, 200, "Hello, wasm!");
    }
}

wasip2::http::proxy::export!(Hello);
