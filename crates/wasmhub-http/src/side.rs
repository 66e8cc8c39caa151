//! Listeners beside the app's (metrics, admin): one request per connection, whose head
//! must arrive within the header timeout, each connection bounded in time.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// A side listener's answer.
pub(crate) type SideResponse = Response<Full<Bytes>>;

/// Answers each connection's one request with `answer`, for as long as the listener lives;
/// a connection is closed after `limit` whatever the client does.
pub(crate) async fn serve<F, Fut>(
    listener: TcpListener,
    header_timeout: Duration,
    limit: Duration,
    answer: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = SideResponse> + Send + 'static,
{
    loop {
        let Some(stream) = crate::listen::accept(&listener).await else {
            continue;
        };
        let answer = answer.clone();
        tokio::spawn(async move {
            if !crate::listen::spoke_within(&stream, header_timeout).await {
                return;
            }
            let service = hyper::service::service_fn(move |req| {
                let answer = answer.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(limit, conn).await;
        });
    }
}

/// A response with `status`, `content_type` and `body`.
pub(crate) fn text(status: StatusCode, content_type: &'static str, body: String) -> SideResponse {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}
