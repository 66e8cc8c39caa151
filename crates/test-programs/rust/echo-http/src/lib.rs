//! `echo-http`: streams the request body back as the response body, chunk by chunk.

use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

struct Echo;

impl wasip2::exports::http::incoming_handler::Guest for Echo {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let response = OutgoingResponse::new(Fields::new());
        let body = response.body().unwrap();
        ResponseOutparam::set(out, Ok(response));
        let incoming = request.consume().unwrap();
        let input = incoming.stream().unwrap();
        let output = body.write().unwrap();
        loop {
            match input.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    for piece in chunk.chunks(4096) {
                        output.blocking_write_and_flush(piece).unwrap();
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    panic!("reading the body: {}", e.to_debug_string())
                }
            }
        }
        drop(input);
        IncomingBody::finish(incoming);
        drop(output);
        OutgoingBody::finish(body, None).unwrap();
    }
}

wasip2::http::proxy::export!(Echo);
