//! One app across many hosts on NATS JetStream. For now: [`NatsBackend`], the shared
//! key-value backend (`wasmhub_state::KvBackend` on JetStream KV), and, behind the
//! `testing` feature, a 3-node NATS cluster on loopback ports for tests.

#![deny(missing_docs)]

mod backend;
pub mod names;
#[cfg(feature = "testing")]
pub mod testing;
mod usage;
mod writes;

pub use backend::{CALL_TIMEOUT, ConnectError, NatsBackend, REQUEST_TIMEOUT};
