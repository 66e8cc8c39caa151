//! `isolation = "process"`: each tenant's components run in worker processes (the same
//! binary, re-executed), which the server supervises and forwards requests to over a Unix
//! socket pair (HTTP/2). Routing, limits, the access log and metrics stay in the server;
//! what only a worker sees (its guests' failures, instances, denials) it reports to the
//! server's `/metrics` when asked.
//!
//! - [`Launcher`]: how the binary re-executes itself as a tenant's worker (the one place
//!   a worker's process is configured: arguments, environment, and later its sandbox).
//! - `spawn`: one worker process and its socket, started in the sandbox (`wasmhub-sandbox`:
//!   namespaces, the tenant's cgroup; the worker enters the rest itself).
//! - `pool`: a tenant's worker: started on demand, respawned with backoff when it dies,
//!   recycled after N requests.
//! - `forward`: one request from the server to a worker, and back.
//! - `outbound`: a worker's guests' outgoing requests, sent by the server if granted.
//! - `kv`: a worker's key-value calls, made by the server on the app's stores if granted.
//! - `sockets`: a worker's socket calls, made by the server in its own network namespace
//!   if granted (`wasmhub_sandbox::SocketBroker`).
//! - `report`: what a worker counts, on the server's `/metrics`: asked at each scrape and
//!   when the worker is let go.
//! - `serve`: the worker's side: the served request path on its socket.

mod forward;
mod kv;
mod outbound;
mod pool;
mod report;
mod serve;
mod snapshot;
mod sockets;
mod spawn;
mod usage;

use std::fmt;
use std::sync::Arc;

pub(crate) use forward::call;
pub use kv::ServerStores;
pub use outbound::WORKER_OUTBOUND_FD;
pub use pool::Pool;
pub(crate) use pool::Pools;
pub(crate) use report::Reports;
pub use serve::serve_worker;
pub(crate) use snapshot::Code;
pub use snapshot::{WORKER_SNAPSHOT_ENV, WorkerSnapshot, prepare_from_snapshot};
pub use sockets::WORKER_SOCKETS_ENV;
pub use spawn::{
    TENANT_MAX_TASKS, TENANT_MEMORY_LIMIT, WORKER_SANDBOX_ENV, WORKER_SOCKET_FD, sandbox_name,
    worker_policy,
};
pub(crate) use usage::send as send_usage;

/// The header carrying the server's request id to a worker (removed there).
pub(crate) const ID_HEADER: &str = "x-wasmhub-worker-request-id";

/// Makes the command that starts a worker for one tenant (the binary re-executed as its
/// hidden worker subcommand). The server adds the socket (inherited as
/// [`WORKER_SOCKET_FD`]) and spawns it. Its clones (one server's, across reloads) share
/// what the workers they started report for `/metrics`.
#[derive(Clone)]
pub struct Launcher {
    make: Arc<dyn Fn(&str) -> std::process::Command + Send + Sync>,
    reports: Arc<Reports>,
    snapshots: Arc<snapshot::Store>,
}

impl Launcher {
    /// A launcher from `make(tenant)`.
    pub fn new(make: impl Fn(&str) -> std::process::Command + Send + Sync + 'static) -> Self {
        Self {
            make: Arc::new(make),
            reports: Arc::default(),
            snapshots: Arc::default(),
        }
    }

    /// This launcher, its workers given `snapshot` (their generation's app).
    pub(crate) fn with_snapshot(&self, snapshot: &snapshot::Snapshot) -> Self {
        let make = self.make.clone();
        let path = snapshot.path().to_owned();
        Self {
            make: Arc::new(move |tenant| {
                let mut cmd = make(tenant);
                cmd.env(WORKER_SNAPSHOT_ENV, &path);
                cmd
            }),
            ..self.clone()
        }
    }

    /// Where its workers' snapshots are written.
    pub(crate) fn snapshots(&self) -> &snapshot::Store {
        &self.snapshots
    }

    /// The command for `tenant`'s worker.
    pub(crate) fn command(&self, tenant: &str) -> std::process::Command {
        (self.make)(tenant)
    }

    /// What its workers have reported.
    pub(crate) fn reports(&self) -> &Arc<Reports> {
        &self.reports
    }
}

impl fmt::Debug for Launcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Launcher")
    }
}
