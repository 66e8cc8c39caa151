//! Application state and configuration: `wasi:keyvalue` and `wasi:config` for guests,
//! the [`backend::KvBackend`] trait, and the durable embedded store behind it.

#![deny(missing_docs)]

pub mod backend;
pub mod limits;
pub mod ops;

pub use backend::{
    BackendError, BackendInfo, BatchOp, Condition, Entry, KvBackend, Page, Revision, StoreId,
    StoreQuota, Usage, Written,
};
pub use limits::KvLimits;
pub use ops::{Kv, KvError};
