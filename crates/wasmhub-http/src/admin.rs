//! The admin listener (`--admin-addr`, loopback unless allowed otherwise): `POST /-/reload`
//! reloads the app and answers 200 with the new generation and what changed, or 422 with
//! why nothing changed; `GET /-/health` answers 200 when ready for new requests, 503 not.

use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};
use tokio::net::TcpListener;

use crate::health::Health;
use crate::reload::Reloader;
use crate::shared::Shared;
use crate::side::text;

/// The longest an admin connection stays open: a reload that compiles large components
/// takes a while on a busy machine.
const CONNECTION_LIMIT: Duration = Duration::from_secs(600);

/// Serves the admin routes on `listener`.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    reloader: Option<Arc<Reloader>>,
    health: Arc<Health>,
) {
    let header_timeout = shared.options.header_timeout;
    crate::side::serve(listener, header_timeout, CONNECTION_LIMIT, move |req| {
        let (shared, reloader, health) = (shared.clone(), reloader.clone(), health.clone());
        async move {
            if req.uri().path() == "/-/health" {
                let (status, body) = health.answer();
                return text(status, "text/plain", body);
            }
            if req.uri().path() != "/-/reload" {
                let body = "the admin routes are: POST /-/reload, GET /-/health\n".to_owned();
                return text(StatusCode::NOT_FOUND, "text/plain", body);
            }
            if req.method() != Method::POST {
                let mut r = text(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "text/plain",
                    "reload with POST /-/reload\n".to_owned(),
                );
                r.headers_mut().insert(
                    hyper::header::ALLOW,
                    hyper::header::HeaderValue::from_static("POST"),
                );
                return r;
            }
            let Some(reloader) = reloader else {
                let body = "this server was started without a way to reload its app\n";
                return text(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "text/plain",
                    body.to_owned(),
                );
            };
            match reloader.reload(&shared).await {
                Ok(reloaded) => text(
                    StatusCode::OK,
                    "application/json",
                    reloaded.to_json() + "\n",
                ),
                Err(why) => text(StatusCode::UNPROCESSABLE_ENTITY, "text/plain", why + "\n"),
            }
        }
    })
    .await;
}
