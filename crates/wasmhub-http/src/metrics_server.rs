//! The `/metrics` listener, on its own address so the app's routes never collide with it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// The longest a metrics connection stays open, whatever the client does.
const CONNECTION_LIMIT: Duration = Duration::from_secs(30);

/// Answers `GET /metrics` with the exposition text, and 404 elsewhere: one request per
/// connection, whose head must arrive within `header_timeout`.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, header_timeout: Duration) {
    loop {
        let Some(stream) = crate::listen::accept(&listener).await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if !crate::listen::spoke_within(&stream, header_timeout).await {
                return;
            }
            let service = hyper::service::service_fn(move |req| {
                let metrics = metrics.clone();
                async move {
                    let resp = if req.uri().path() == "/metrics" {
                        let mut r = Response::new(Full::new(Bytes::from(metrics.render())));
                        r.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
                        );
                        r
                    } else {
                        let mut r = Response::new(Full::new(Bytes::from_static(
                            b"metrics are at /metrics\n",
                        )));
                        *r.status_mut() = StatusCode::NOT_FOUND;
                        r
                    };
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIMIT, conn).await;
        });
    }
}
