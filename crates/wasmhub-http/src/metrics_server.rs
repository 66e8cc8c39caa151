//! The `/metrics` listener, on its own address so the app's routes never collide with it.

use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use tokio::net::TcpListener;

use crate::metrics::Metrics;
use crate::side::text;
use crate::tally::Tally;
use crate::worker::Reports;

/// The longest a metrics connection stays open, whatever the client does.
const CONNECTION_LIMIT: Duration = Duration::from_secs(30);

/// Answers `GET /metrics` with the exposition text (with what `workers` report, under
/// process isolation), and 404 elsewhere: one request per connection, whose head must
/// arrive within `header_timeout`.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    workers: Option<Arc<Reports>>,
    header_timeout: Duration,
) {
    crate::side::serve(listener, header_timeout, CONNECTION_LIMIT, move |req| {
        let metrics = metrics.clone();
        let workers = workers.clone();
        async move {
            if req.uri().path() == "/metrics" {
                let reported = match workers {
                    Some(workers) => workers.collect().await,
                    None => Tally::default(),
                };
                text(
                    StatusCode::OK,
                    "text/plain; version=0.0.4",
                    metrics.render(&reported),
                )
            } else {
                let body = "metrics are at /metrics\n".to_owned();
                text(StatusCode::NOT_FOUND, "text/plain", body)
            }
        }
    })
    .await;
}
