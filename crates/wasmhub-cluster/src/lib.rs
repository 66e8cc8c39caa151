//! One app across many hosts on NATS JetStream: [`NatsBackend`], the shared key-value
//! backend (`wasmhub_state::KvBackend` on JetStream KV); the desired state of each app
//! ([`desired`]), written by [`deploy`] with its code in an Object Store ([`blobs`]); host
//! liveness ([`hosts`]); and, behind the `testing` feature, a 3-node NATS cluster on
//! loopback ports for tests.

#![deny(missing_docs)]

pub mod access;
mod backend;
pub mod blobs;
pub mod connection;
pub mod deploy;
pub mod desired;
pub mod hosts;
pub mod names;
#[cfg(feature = "testing")]
pub mod testing;
mod usage;
mod writes;

pub use access::Access;
pub use backend::{CALL_TIMEOUT, NatsBackend};
pub use connection::{ConnectError, REQUEST_TIMEOUT};
