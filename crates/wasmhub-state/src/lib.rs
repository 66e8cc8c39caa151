//! Application state and configuration: `wasi:keyvalue` and `wasi:config` for guests,
//! the [`backend::KvBackend`] trait, and the durable embedded store behind it.

#![deny(missing_docs)]

pub mod backend;
mod backends;
mod bindings;
mod component;
mod config;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod cursors;
pub mod embedded;
mod host;
pub mod limits;
pub mod memory;
pub mod ops;
mod p2config;
mod p2keyvalue;
pub mod quota;
mod spin;
mod transfer;

pub use backend::{
    BackendError, BackendInfo, BatchOp, Condition, Entry, KvBackend, Page, Revision, StoreId,
    StoreQuota, Usage, Written,
};
pub use backends::{
    BackendChoice, BackendOpener, StateError, backend_for, choose_backend, chosen,
    in_use_elsewhere, look_only, opened_backends,
};
pub use component::{ComponentState, StateCtx, store_limits};
pub use config::Config;
pub use embedded::{EmbeddedBackend, OpenError, data_dir};
pub use host::{Bucket, Cas, GuestError, HasState, StateView, add_to_linker};
pub use limits::KvLimits;
pub use memory::MemoryBackend;
pub use ops::{Kv, KvError};
pub use spin::add_wasi3_to_linker;
