//! Serves `wasi:http` components: routes, a fresh isolated instance per request, limits, logs.

#![deny(missing_docs)]

mod body;
mod connection;
mod failure;
mod give_way;
mod guest_log;
mod handler;
mod metrics;
mod metrics_server;
mod options;
mod p3;
mod prepared;
mod respond;
mod server;
mod slots;
mod state;
mod usage;

pub use options::ServeOptions;
pub use prepared::{PreparedApp, prepare};
pub use server::{Server, serve};
