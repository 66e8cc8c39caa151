//! The worker's side: its tenant's components served on its socket to the server (HTTP/2),
//! through the same request path as in-process serving, and its counts when the server asks.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::{Context, Result};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use wasmhub_core::Engines;

use crate::body::Held;
use crate::request::handle;
use crate::shared::Shared;
use crate::{PreparedApp, ServeOptions};

/// Serves `app` on `socket` (the server's connection) until the server lets it go, its
/// guests' granted outgoing requests sent through `outbound`; call it on the runtime
/// started after the worker's lock-down. Starts the epoch ticker.
pub async fn serve_worker(
    engines: Engines,
    app: PreparedApp,
    mut options: ServeOptions,
    socket: std::os::unix::net::UnixStream,
    outbound: std::os::unix::net::UnixStream,
) -> Result<()> {
    super::outbound::connect(outbound)
        .await
        .context("the worker's outbound socket")?;
    for engine in engines.all() {
        wasmhub_core::ensure_ticking(engine);
    }
    options.worker = true;
    let max_header = u32::try_from(options.max_header_bytes).unwrap_or(u32::MAX);
    let shared = Arc::new(Shared::new(engines, app, options));
    let answers = Arc::new(AtomicU64::new(0));
    socket.set_nonblocking(true)?;
    let stream = tokio::net::UnixStream::from_std(socket).context("the worker's socket")?;
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let answers = answers.clone();
        async move {
            let generation = shared.generation();
            let response = if super::report::asked(&req) {
                super::report::answer(&shared.metrics, &answers)
            } else {
                handle(shared, &generation, req).await
            };
            Ok::<_, Infallible>(response.map(|body| Held::new(body, generation)))
        }
    });
    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .max_header_list_size(max_header)
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(16 << 20)
        .serve_connection(TokioIo::new(stream), service)
        .await
        .context("the connection to the server failed")
}
