//! `wasmhub host`: one host of an app in a cluster (see `commands/host.rs` for the verb).

pub mod follow;
pub mod revision;
pub mod status;
