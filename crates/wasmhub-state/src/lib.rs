//! Application state and configuration: `wasi:keyvalue` and `wasi:config` for guests,
//! the [`backend::KvBackend`] trait, and the durable embedded store behind it.

#![deny(missing_docs)]

pub mod backend;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod embedded;
pub mod limits;
pub mod memory;
pub mod ops;
mod quota;
mod transfer;

pub use backend::{
    BackendError, BackendInfo, BatchOp, Condition, Entry, KvBackend, Page, Revision, StoreId,
    StoreQuota, Usage, Written,
};
pub use embedded::{EmbeddedBackend, OpenError, data_dir};
pub use limits::KvLimits;
pub use memory::MemoryBackend;
pub use ops::{Kv, KvError};
