//! Key-value operations as guests see them, the same on every backend: sizes checked,
//! increment and compare-and-swap built once on conditional writes.

use std::sync::Arc;

use crate::backend::{BackendError, Entry, KvBackend, Revision, StoreId};
use crate::limits::KvLimits;

/// Keys returned by one `list-keys` page.
pub const PAGE_KEYS: usize = 1000;

/// Why a key-value operation failed; every message names the store.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// A key longer than the limit.
    #[error("{store}: key of {asked} bytes is longer than the limit of {limit} bytes")]
    KeyTooLong {
        /// The store.
        store: StoreId,
        /// The limit.
        limit: usize,
        /// The key's length.
        asked: usize,
    },
    /// A value larger than the limit.
    #[error("{store}: value of {asked} bytes is larger than the limit of {limit} bytes")]
    ValueTooLarge {
        /// The store.
        store: StoreId,
        /// The limit.
        limit: usize,
        /// The value's length.
        asked: usize,
    },
    /// Increment on a value that is not a counter (8 bytes, a little-endian i64).
    #[error(
        "{store}: key {key:?} holds {len} bytes, not a counter (8 bytes, little-endian i64); nothing was written"
    )]
    NotACounter {
        /// The store.
        store: StoreId,
        /// The key.
        key: String,
        /// The value's length.
        len: usize,
    },
    /// Increment past the counter's range.
    #[error(
        "{store}: incrementing key {key:?} ({current}) by {delta} overflows; nothing was written"
    )]
    Overflow {
        /// The store.
        store: StoreId,
        /// The key.
        key: String,
        /// The counter's value.
        current: i64,
        /// The increment asked.
        delta: i128,
    },
    /// The backend failed or a store quota was reached.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The key-value operations on one backend with one set of limits.
#[derive(Clone)]
pub struct Kv {
    backend: Arc<dyn KvBackend>,
    limits: KvLimits,
}

impl Kv {
    /// Operations on `backend` within `limits`.
    pub fn new(backend: Arc<dyn KvBackend>, limits: KvLimits) -> Self {
        Self { backend, limits }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn KvBackend> {
        &self.backend
    }

    /// The limits.
    pub fn limits(&self) -> &KvLimits {
        &self.limits
    }

    /// The value of `key`.
    pub async fn get(&self, store: &StoreId, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let _ = (store, key);
        unimplemented!("wasmhub-state ops: get")
    }

    /// Sets `key` to `value` (durable when this returns, on a durable backend).
    pub async fn set(&self, store: &StoreId, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        let _ = (store, key, value);
        unimplemented!("wasmhub-state ops: set")
    }

    /// Removes `key`; absent is fine.
    pub async fn delete(&self, store: &StoreId, key: &str) -> Result<(), KvError> {
        let _ = (store, key);
        unimplemented!("wasmhub-state ops: delete")
    }

    /// Whether `key` has a value.
    pub async fn exists(&self, store: &StoreId, key: &str) -> Result<bool, KvError> {
        let _ = (store, key);
        unimplemented!("wasmhub-state ops: exists")
    }

    /// Up to [`PAGE_KEYS`] keys after the opaque `cursor`, and the cursor of the next page.
    pub async fn list(
        &self,
        store: &StoreId,
        cursor: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), KvError> {
        let _ = (store, cursor);
        unimplemented!("wasmhub-state ops: list")
    }

    /// Adds `delta` to the counter at `key` (a missing key starts at 0); the new value.
    pub async fn increment(&self, store: &StoreId, key: &str, delta: i64) -> Result<i64, KvError> {
        let _ = (store, key, delta);
        unimplemented!("wasmhub-state ops: increment")
    }

    /// The current entry of `key`, to compare-and-swap against its revision later.
    pub async fn read_for_swap(
        &self,
        store: &StoreId,
        key: &str,
    ) -> Result<Option<Entry>, KvError> {
        let _ = (store, key);
        unimplemented!("wasmhub-state ops: read_for_swap")
    }

    /// Sets `key` to `value` only if its revision is still `seen` (`None`: still absent).
    /// `Ok(false)` when another write came first.
    pub async fn swap(
        &self,
        store: &StoreId,
        key: &str,
        seen: Option<Revision>,
        value: Vec<u8>,
    ) -> Result<bool, KvError> {
        let _ = (store, key, seen, value);
        unimplemented!("wasmhub-state ops: swap")
    }

    /// The values of `keys`, in order (`None` where absent).
    pub async fn get_many(
        &self,
        store: &StoreId,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
        let _ = (store, keys);
        unimplemented!("wasmhub-state ops: get_many")
    }

    /// Sets every pair, all or nothing where the backend's batches are atomic.
    pub async fn set_many(
        &self,
        store: &StoreId,
        pairs: Vec<(String, Vec<u8>)>,
    ) -> Result<(), KvError> {
        let _ = (store, pairs);
        unimplemented!("wasmhub-state ops: set_many")
    }

    /// Removes every key, all or nothing where the backend's batches are atomic.
    pub async fn delete_many(&self, store: &StoreId, keys: Vec<String>) -> Result<(), KvError> {
        let _ = (store, keys);
        unimplemented!("wasmhub-state ops: delete_many")
    }
}
