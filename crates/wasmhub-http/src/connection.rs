//! One client connection: served until the client leaves, it stays idle too long, or the
//! server stops.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::body::Held;
use crate::listen::spoke_within;
use crate::request::handle;
use crate::shared::Shared;

/// Serves `stream` until it ends. A client that sends nothing, or keeps a connection (HTTP/1
/// keep-alive or HTTP/2) open with no request in flight for the header timeout, is asked to
/// go (HTTP/2 GOAWAY) and cut if it is still there one header timeout later. A request is in
/// flight from its head until its response body has ended (its deadline bounds it). When
/// `stopped` changes, in-flight requests get the drain timeout to finish.
pub(crate) async fn serve(
    stream: TcpStream,
    builder: auto::Builder<TokioExecutor>,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let limit = shared.options.header_timeout;
    let drain = shared.options.drain_timeout;
    let spoke = tokio::select! {
        spoke = spoke_within(&stream, limit) => spoke,
        _ = stopped.changed() => false,
    };
    if !spoke {
        return;
    }
    let activity = Arc::new(Activity::new());
    let client = crate::spin::shaped(&shared.generation().app)
        .then(|| stream.peer_addr().ok())
        .flatten();
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            if let Some(c) = client {
                req.extensions_mut().insert(crate::spin::ClientAddr(c));
            }
            let (shared, busy) = (shared.clone(), Busy::new(activity.clone()));
            async move {
                // The request runs entirely in the generation current as it is routed,
                // and holds it until its response body has ended.
                let generation = shared.generation();
                let response = handle(shared, &generation, req).await;
                // The request stays in flight until its response body has ended: the
                // header timeout never applies to a body still streaming.
                let held = (busy, generation);
                Ok::<_, std::convert::Infallible>(response.map(|body| Held::new(body, held)))
            }
        })
    };
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let grace = tokio::select! {
        ended = conn.as_mut() => {
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            return;
        }
        () = activity.idle(limit) => limit,
        _ = stopped.changed() => drain,
    };
    conn.as_mut().graceful_shutdown();
    match tokio::time::timeout(grace, conn).await {
        Ok(Err(e)) => tracing::debug!(error = %e, "connection ended with an error"),
        Ok(Ok(())) => {}
        Err(_) => {
            tracing::debug!("connection cut: still open {grace:?} after it was asked to close")
        }
    }
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    since: Mutex<Instant>,
}

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            since: Mutex::new(Instant::now()),
        }
    }

    /// How long the connection has had no request in flight (`None` while one is).
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(self.since.lock().map_or(Duration::ZERO, |t| t.elapsed()))
    }

    /// Resolves once the connection has been idle for `limit`.
    async fn idle(&self, limit: Duration) {
        loop {
            let wait = match self.idle_for() {
                Some(idle) if idle >= limit => return,
                Some(idle) => limit - idle,
                None => limit,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// One request in flight, until its response body ends; its end restarts the idle clock.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut since) = self.0.since.lock() {
            *since = Instant::now();
        }
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_waits_for_requests_to_end() {
        let activity = Arc::new(Activity::new());
        let busy = Busy::new(activity.clone());
        assert_eq!(activity.idle_for(), None);
        let limit = Duration::from_millis(100);
        let waiting = tokio::spawn({
            let activity = activity.clone();
            async move { activity.idle(limit).await }
        });
        tokio::time::sleep(limit * 4).await;
        assert!(!waiting.is_finished(), "idle while a request was in flight");
        let ended = Instant::now();
        drop(busy);
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("idle once the request ended")
            .unwrap();
        assert!(ended.elapsed() >= limit, "idle before the limit");
    }
}
