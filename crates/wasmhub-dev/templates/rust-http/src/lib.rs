//! `{{name}}`: a wasi:http handler. Edit `handle`, then `wasmhub dev` rebuilds and reloads it.

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Component;

impl wasip2::exports::http::incoming_handler::Guest for Component {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let body = format!("Hello from {{name}} (Rust) at {path}\n");
        let headers = Fields::from_list(&[("content-type".into(), b"text/plain".to_vec())])
            .expect("valid headers");
        let response = OutgoingResponse::new(headers);
        response.set_status_code(200).expect("a valid status");
        let outgoing = response.body().expect("the body is taken once");
        ResponseOutparam::set(out, Ok(response));
        let stream = outgoing.write().expect("the stream is taken once");
        for piece in body.as_bytes().chunks(4096) {
            stream
                .blocking_write_and_flush(piece)
                .expect("the client reads the body");
        }
        drop(stream);
        OutgoingBody::finish(outgoing, None).expect("the body ends once");
    }
}

wasip2::http::proxy::export!(Component);
