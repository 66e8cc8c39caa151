//! The contract every key-value backend keeps: per-key revisions, conditional writes,
//! paged listing and usage, so increment, CAS and limits are written once above it.
//!
//! A backend stores opaque bytes under `(store, key)`. It knows nothing of guests, grants
//! or WIT: [`crate::ops::Kv`] checks sizes and grants, and builds increment and CAS on
//! [`KvBackend::put`] with a [`Condition`]. The embedded store ([`crate::embedded`]) and
//! the in-memory one ([`crate::memory`]) are the first backends; a remote one (NATS
//! JetStream KV) fits the same shape: its revisions are the stream's sequence numbers.

use std::fmt;

/// Which store of which app: the unit of sharing, limits and usage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreId {
    /// The app's name (`[app] name`).
    pub app: String,
    /// The store's label as granted (`keyvalue = ["default"]`).
    pub label: String,
}

impl StoreId {
    /// Store `label` of app `app`.
    pub fn new(app: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            app: app.into(),
            label: label.into(),
        }
    }
}

impl fmt::Display for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store {:?} of app {:?}", self.label, self.app)
    }
}

/// A revision: unique and increasing within a store, never reused (so a key deleted and
/// written again has a new one, and compare-and-swap cannot be fooled by ABA).
pub type Revision = u64;

/// A stored value and the revision that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "wire", derive(serde::Serialize, serde::Deserialize))]
pub struct Entry {
    /// The bytes.
    pub value: Vec<u8>,
    /// The revision of the write that stored them.
    pub revision: Revision,
}

/// When a write may happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "wire", derive(serde::Serialize, serde::Deserialize))]
pub enum Condition {
    /// Always.
    Always,
    /// Only if the key has no value.
    Absent,
    /// Only if the key's current revision is this one.
    Revision(Revision),
}

/// What a conditional write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "wire", derive(serde::Serialize, serde::Deserialize))]
pub enum Written {
    /// Written, with the new revision (for a delete: the key's old revision, or `None` if
    /// there was nothing to delete).
    Done(Option<Revision>),
    /// The condition did not hold; nothing was written. Carries the key's current revision.
    Conflict(Option<Revision>),
}

/// Per-store limits a backend enforces atomically with the write (the sizes of single keys
/// and values are checked above the trait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "wire", derive(serde::Serialize, serde::Deserialize))]
pub struct StoreQuota {
    /// Most keys the store may hold.
    pub max_keys: u64,
    /// Most bytes (keys plus values) the store may hold.
    pub max_bytes: u64,
}

/// One operation of an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "wire", derive(serde::Serialize, serde::Deserialize))]
pub enum BatchOp {
    /// Set `key` to `value`.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key` (absent is fine).
    Delete {
        /// The key.
        key: String,
    },
}

/// One page of keys, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "wire", derive(serde::Serialize, serde::Deserialize))]
pub struct Page {
    /// The keys, ascending.
    pub keys: Vec<String>,
    /// Where the next page starts (the last key returned), if there may be more.
    pub next: Option<String>,
}

/// What a store holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "wire", derive(serde::Serialize, serde::Deserialize))]
pub struct Usage {
    /// Keys stored.
    pub keys: u64,
    /// Bytes stored: the sum of every key's and value's length.
    pub bytes: u64,
}

/// What a backend says about itself, for `check` and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// `embedded`, `memory`, `nats`.
    pub kind: &'static str,
    /// Where the data lives: a file, a URL, or `memory (lost at exit)`.
    pub location: String,
    /// Whether an acknowledged write survives a crash.
    pub durable: bool,
}

/// Why a backend call failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A write would take the store past one of its quotas; nothing was written.
    #[error("{store} would hold {asked} {what}, past its limit of {limit}")]
    Quota {
        /// The store.
        store: StoreId,
        /// `keys` or `bytes`.
        what: &'static str,
        /// The limit.
        limit: u64,
        /// What the write would have made it.
        asked: u64,
    },
    /// The backend itself failed (I/O, corruption, connection); the message says which.
    #[error("{store}: {message}")]
    Failed {
        /// The store.
        store: StoreId,
        /// What went wrong, naming the file or server.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

/// A place to keep key-value data. Writes return only once they are as durable as
/// [`BackendInfo::durable`] says.
#[async_trait::async_trait]
pub trait KvBackend: Send + Sync + 'static {
    /// Kind and location, for `check` and logs.
    fn info(&self) -> BackendInfo;

    /// The value and revision of `key`, if it has one.
    async fn get(&self, store: &StoreId, key: &str) -> Result<Option<Entry>, BackendError>;

    /// Writes `value` under `key` if `condition` holds and the store stays within `quota`.
    async fn put(
        &self,
        store: &StoreId,
        key: &str,
        value: Vec<u8>,
        condition: Condition,
        quota: StoreQuota,
    ) -> Result<Written, BackendError>;

    /// Removes `key` if `condition` holds (`Always` on an absent key is `Done(None)`).
    async fn delete(
        &self,
        store: &StoreId,
        key: &str,
        condition: Condition,
    ) -> Result<Written, BackendError>;

    /// Applies every operation or none (atomic where [`KvBackend::atomic_batches`] says so),
    /// keeping the store within `quota`.
    async fn batch(
        &self,
        store: &StoreId,
        ops: Vec<BatchOp>,
        quota: StoreQuota,
    ) -> Result<(), BackendError>;

    /// Whether [`KvBackend::batch`] is all-or-nothing.
    fn atomic_batches(&self) -> bool;

    /// Up to `limit` keys after `after` (exclusive), in key order.
    async fn list(
        &self,
        store: &StoreId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, BackendError>;

    /// What the store holds now.
    async fn usage(&self, store: &StoreId) -> Result<Usage, BackendError>;

    /// Every store of `app` that holds data, by label.
    async fn stores(&self, app: &str) -> Result<Vec<String>, BackendError>;
}
