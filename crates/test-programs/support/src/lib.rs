//! Helpers the guest components share (a library, not a guest: it builds no `.wasm`).

pub mod catalog;
pub mod request;

use wasip2::http::types::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};

/// Sets a complete response: `status`, optional headers, and `body` written in one go.
pub fn respond(out: ResponseOutparam, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    let response = OutgoingResponse::new(Fields::from_list(&list).unwrap());
    response.set_status_code(status).unwrap();
    let outgoing = response.body().unwrap();
    ResponseOutparam::set(out, Ok(response));
    let stream = outgoing.write().unwrap();
    // `blocking-write-and-flush` takes at most 4096 bytes at a time.
    for piece in body.chunks(4096) {
        stream.blocking_write_and_flush(piece).unwrap();
    }
    drop(stream);
    OutgoingBody::finish(outgoing, None).unwrap();
}

/// Sets a `text/plain` response with `status` and `text`.
pub fn answer(out: ResponseOutparam, status: u16, text: &str) {
    respond(
        out,
        status,
        &[("content-type", "text/plain")],
        text.as_bytes(),
    );
}
