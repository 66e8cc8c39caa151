//! Responses the host writes itself: 404, 503, 500 and 504, each with the request id.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Response, StatusCode, header};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The header carrying the request id on every response.
pub const REQUEST_ID: &str = "x-request-id";

/// A plain-text response from the host.
pub fn plain(status: StatusCode, request_id: &str, text: String) -> Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from(format!("{text}\n")))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(v) = header::HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, v);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    resp
}
