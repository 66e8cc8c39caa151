//! The `/metrics` listener, on its own address so the app's routes never collide with it.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// Answers `GET /metrics` with the exposition text, and 404 elsewhere.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
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
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
