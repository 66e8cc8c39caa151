//! Key-value operations as guests see them, the same on every backend: sizes checked,
//! increment and compare-and-swap built once on conditional writes.

use std::sync::Arc;

use crate::backend::{
    BackendError, BatchOp, Condition, Entry, KvBackend, Revision, StoreId, Written,
};
use crate::limits::KvLimits;

/// Keys returned by one `list-keys` page.
pub const PAGE_KEYS: usize = 1000;

/// How many times an increment re-reads after losing a race before it gives up.
pub const MAX_RETRIES: u32 = 10_000;

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
    /// A `list-keys` cursor that this host did not make.
    #[error(
        "{store}: list cursor {cursor:?} is not one this host returned; pass the cursor of the previous page, or none to start"
    )]
    BadCursor {
        /// The store.
        store: StoreId,
        /// The cursor (its first 64 characters).
        cursor: String,
    },
    /// An increment lost every race to other writers of the same key.
    #[error(
        "{store}: incrementing key {key:?} lost to other writers {attempts} times in a row; nothing was written, try again"
    )]
    Contended {
        /// The store.
        store: StoreId,
        /// The key.
        key: String,
        /// How many times it tried.
        attempts: u32,
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
        self.check_key(store, key)?;
        Ok(self.backend.get(store, key).await?.map(|e| e.value))
    }

    /// Sets `key` to `value` (durable when this returns, on a durable backend).
    pub async fn set(&self, store: &StoreId, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        self.check_key(store, key)?;
        self.check_value(store, &value)?;
        self.backend
            .put(store, key, value, Condition::Always, self.limits.quota())
            .await?;
        Ok(())
    }

    /// Removes `key`; absent is fine.
    pub async fn delete(&self, store: &StoreId, key: &str) -> Result<(), KvError> {
        self.check_key(store, key)?;
        self.backend.delete(store, key, Condition::Always).await?;
        Ok(())
    }

    /// Whether `key` has a value.
    pub async fn exists(&self, store: &StoreId, key: &str) -> Result<bool, KvError> {
        self.check_key(store, key)?;
        Ok(self.backend.get(store, key).await?.is_some())
    }

    /// Up to [`PAGE_KEYS`] keys after the opaque `cursor`, and the cursor of the next page.
    pub async fn list(
        &self,
        store: &StoreId,
        cursor: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), KvError> {
        let after = cursor.map(|c| decode_cursor(store, c)).transpose()?;
        let page = self
            .backend
            .list(store, after.as_deref(), PAGE_KEYS)
            .await?;
        Ok((page.keys, page.next.as_deref().map(encode_cursor)))
    }

    /// Adds `delta` to the counter at `key` (a missing key starts at 0); the new value.
    pub async fn increment(&self, store: &StoreId, key: &str, delta: i64) -> Result<i64, KvError> {
        self.check_key(store, key)?;
        for _ in 0..MAX_RETRIES {
            let current = self.backend.get(store, key).await?;
            let (value, condition) = match &current {
                None => (0, Condition::Absent),
                Some(entry) => (
                    counter(store, key, &entry.value)?,
                    Condition::Revision(entry.revision),
                ),
            };
            let new = value.checked_add(delta).ok_or_else(|| KvError::Overflow {
                store: store.clone(),
                key: key.to_owned(),
                current: value,
                delta: delta.into(),
            })?;
            let written = self
                .backend
                .put(
                    store,
                    key,
                    new.to_le_bytes().to_vec(),
                    condition,
                    self.limits.quota(),
                )
                .await?;
            if let Written::Done(_) = written {
                return Ok(new);
            }
            // Another write came between the read and the put: read again.
            tokio::task::yield_now().await;
        }
        Err(KvError::Contended {
            store: store.clone(),
            key: key.to_owned(),
            attempts: MAX_RETRIES,
        })
    }

    /// The current entry of `key`, to compare-and-swap against its revision later.
    pub async fn read_for_swap(
        &self,
        store: &StoreId,
        key: &str,
    ) -> Result<Option<Entry>, KvError> {
        self.check_key(store, key)?;
        Ok(self.backend.get(store, key).await?)
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
        self.check_key(store, key)?;
        self.check_value(store, &value)?;
        let condition = match seen {
            Some(revision) => Condition::Revision(revision),
            None => Condition::Absent,
        };
        let written = self
            .backend
            .put(store, key, value, condition, self.limits.quota())
            .await?;
        Ok(matches!(written, Written::Done(_)))
    }

    /// The values of `keys`, in order (`None` where absent).
    pub async fn get_many(
        &self,
        store: &StoreId,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
        for key in &keys {
            self.check_key(store, key)?;
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let entry = self.backend.get(store, &key).await?;
            out.push(entry.map(|e| (key, e.value)));
        }
        Ok(out)
    }

    /// Sets every pair, all or nothing where the backend's batches are atomic.
    pub async fn set_many(
        &self,
        store: &StoreId,
        pairs: Vec<(String, Vec<u8>)>,
    ) -> Result<(), KvError> {
        for (key, value) in &pairs {
            self.check_key(store, key)?;
            self.check_value(store, value)?;
        }
        let ops = pairs
            .into_iter()
            .map(|(key, value)| BatchOp::Put { key, value })
            .collect();
        self.backend.batch(store, ops, self.limits.quota()).await?;
        Ok(())
    }

    /// Removes every key, all or nothing where the backend's batches are atomic.
    pub async fn delete_many(&self, store: &StoreId, keys: Vec<String>) -> Result<(), KvError> {
        for key in &keys {
            self.check_key(store, key)?;
        }
        let ops = keys
            .into_iter()
            .map(|key| BatchOp::Delete { key })
            .collect();
        self.backend.batch(store, ops, self.limits.quota()).await?;
        Ok(())
    }

    pub(crate) fn check_key(&self, store: &StoreId, key: &str) -> Result<(), KvError> {
        if key.len() > self.limits.max_key_bytes {
            return Err(KvError::KeyTooLong {
                store: store.clone(),
                limit: self.limits.max_key_bytes,
                asked: key.len(),
            });
        }
        Ok(())
    }

    pub(crate) fn check_value(&self, store: &StoreId, value: &[u8]) -> Result<(), KvError> {
        if value.len() > self.limits.max_value_bytes {
            return Err(KvError::ValueTooLarge {
                store: store.clone(),
                limit: self.limits.max_value_bytes,
                asked: value.len(),
            });
        }
        Ok(())
    }
}

/// The counter stored in `value`, or why it is not one.
fn counter(store: &StoreId, key: &str, value: &[u8]) -> Result<i64, KvError> {
    let bytes: [u8; 8] = value.try_into().map_err(|_| KvError::NotACounter {
        store: store.clone(),
        key: key.to_owned(),
        len: value.len(),
    })?;
    Ok(i64::from_le_bytes(bytes))
}

/// The cursor format's version, the first character of every cursor.
const CURSOR_VERSION: char = '1';

/// The opaque cursor that resumes a listing after `key`: a version, then the key in hex.
fn encode_cursor(key: &str) -> String {
    let mut cursor = String::with_capacity(1 + key.len() * 2);
    cursor.push(CURSOR_VERSION);
    cursor.push_str(&hex::encode(key));
    cursor
}

/// The key a cursor made by [`encode_cursor`] resumes after.
fn decode_cursor(store: &StoreId, cursor: &str) -> Result<String, KvError> {
    let bad = || KvError::BadCursor {
        store: store.clone(),
        cursor: cursor.chars().take(64).collect(),
    };
    let hex = cursor.strip_prefix(CURSOR_VERSION).ok_or_else(bad)?;
    let bytes = hex::decode(hex).map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let store = StoreId::new("app", "s");
        for key in ["", "a", "a/b", "\0", "ünï"] {
            assert_eq!(decode_cursor(&store, &encode_cursor(key)).unwrap(), key);
        }
        for bad in ["", "x61", "1zz", "16", "1ff"] {
            let err = decode_cursor(&store, bad).unwrap_err().to_string();
            assert!(err.contains("cursor"), "{err}");
        }
    }

    #[test]
    fn counters_are_eight_bytes_little_endian() {
        let store = StoreId::new("app", "s");
        assert_eq!(counter(&store, "k", &7i64.to_le_bytes()).unwrap(), 7);
        let err = counter(&store, "k", b"7").unwrap_err().to_string();
        assert!(err.contains("holds 1 bytes, not a counter"), "{err}");
    }
}
