//! A store's usage kept in its own bucket, under [`crate::names::USAGE_KEY`], changed by
//! compare-and-set on the entry's revision so concurrent writers never lose an update.
//!
//! A write that grows the store reserves its growth here first (checked against the quota
//! by the same compare-and-set), then writes the key; if the key write loses a race the
//! reservation is given back. A write that shrinks the store writes the key first, then
//! subtracts. So if a host dies between the two steps, or a call fails after the server
//! applied it, usage over-counts (never under-counts), and quotas err on the safe side.

use async_nats::jetstream::kv;
use bytes::Bytes;
use wasmhub_state::quota::{Change, check_quota};
use wasmhub_state::{BackendError, StoreId, StoreQuota, Usage};

use crate::backend::{MAX_ATTEMPTS, NatsBackend, lost_race};
use crate::names::USAGE_KEY;

/// `usage` as the 16 bytes stored: keys then bytes, little-endian `u64`s.
fn encode(usage: Usage) -> Bytes {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&usage.keys.to_le_bytes());
    out.extend_from_slice(&usage.bytes.to_le_bytes());
    out.into()
}

/// The usage stored as [`encode`] made it (anything else reads as empty).
fn decode(bytes: &[u8]) -> Usage {
    let word = |i: usize| {
        bytes
            .get(i..i + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0)
    };
    Usage {
        keys: word(0),
        bytes: word(8),
    }
}

/// The change that undoes `change`.
pub(crate) fn inverse(change: Change) -> Change {
    Change {
        keys: -change.keys,
        bytes: -change.bytes,
    }
}

impl NatsBackend {
    /// The usage entry's revision (0: none yet) and value.
    pub(crate) async fn read_usage(
        &self,
        kv: &kv::Store,
        store: &StoreId,
    ) -> Result<(u64, Usage), BackendError> {
        let (revision, entry) = self.last(kv, store, USAGE_KEY).await?;
        Ok((
            revision,
            entry.map(|e| decode(&e.value)).unwrap_or_default(),
        ))
    }

    /// Adds `change` to the usage if the quota allows; `false` if another writer changed
    /// the usage first (read again and retry).
    pub(crate) async fn reserve(
        &self,
        kv: &kv::Store,
        store: &StoreId,
        change: Change,
        quota: StoreQuota,
    ) -> Result<bool, BackendError> {
        let (revision, usage) = self.read_usage(kv, store).await?;
        let new = check_quota(store, usage, change, quota)?;
        Ok(self
            .publish(kv, store, USAGE_KEY, encode(new), revision, false)
            .await?
            .is_some())
    }

    /// Adds `change` to the usage, whatever the quota (a shrink, or giving a reservation back).
    pub(crate) async fn adjust(
        &self,
        kv: &kv::Store,
        store: &StoreId,
        change: Change,
    ) -> Result<(), BackendError> {
        for attempt in 0..MAX_ATTEMPTS {
            let (revision, usage) = self.read_usage(kv, store).await?;
            let new = change.apply(usage);
            if self
                .publish(kv, store, USAGE_KEY, encode(new), revision, false)
                .await?
                .is_some()
            {
                return Ok(());
            }
            lost_race(attempt).await;
        }
        Err(self.contended(store))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_round_trips_and_garbage_reads_as_empty() {
        let u = Usage {
            keys: 3,
            bytes: u64::MAX - 1,
        };
        assert_eq!(decode(&encode(u)), u);
        assert_eq!(decode(b"x"), Usage::default());
    }
}
