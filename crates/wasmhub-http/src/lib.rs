//! Serves `wasi:http` components: routes, a fresh isolated instance per request, limits, logs.

#![deny(missing_docs)]

mod access;
mod admin;
mod body;
mod call;
mod changes;
mod connection;
mod failure;
mod generation;
mod guest_log;
mod health;
mod listen;
mod metrics;
mod metrics_server;
mod options;
mod p2;
mod p3;
mod prepared;
mod reload;
mod request;
mod respond;
mod reuse;
mod server;
mod shared;
mod side;
mod slots;
mod spin;
mod state;
mod store;
mod tally;
mod ticket;
mod usage;
mod worker;

pub use access::ACCESS_TARGET;
pub use changes::Changes;
pub use health::ReadyCheck;
pub use options::ServeOptions;
pub use prepared::{PreparedApp, prepare, prepare_on};
pub use reload::{LoadApp, ReloadError, ReloadHandle, Reloaded, Reloader};
pub use server::{Server, print_addresses, serve, serve_then, shutdown_signal};
pub use worker::{
    Launcher, Pool, ServerStores, TENANT_MAX_TASKS, TENANT_MEMORY_LIMIT, WORKER_OUTBOUND_FD,
    WORKER_SANDBOX_ENV, WORKER_SNAPSHOT_ENV, WORKER_SOCKET_FD, WORKER_SOCKETS_ENV, WorkerSnapshot,
    prepare_from_snapshot, sandbox_name, serve_worker, worker_policy,
};
