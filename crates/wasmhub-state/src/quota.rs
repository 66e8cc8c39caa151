//! Usage arithmetic and quota checks, shared by every backend (this crate's and the NATS one).

use crate::backend::{BackendError, BatchOp, Condition, Revision, StoreId, StoreQuota, Usage};

/// How a write changes a store's usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Change {
    /// Keys added (negative: removed).
    pub keys: i64,
    /// Bytes added (negative: removed).
    pub bytes: i64,
}

impl Change {
    /// Accounts for `key` going away, if it held a value of `old` bytes.
    pub fn remove(&mut self, key: &str, old: Option<usize>) {
        if let Some(len) = old {
            self.keys -= 1;
            self.bytes -= (key.len() + len) as i64;
        }
    }

    /// Accounts for `key` now holding a value of `len` bytes.
    pub fn add(&mut self, key: &str, len: usize) {
        self.keys += 1;
        self.bytes += (key.len() + len) as i64;
    }

    /// `usage` after this change.
    pub fn apply(self, usage: Usage) -> Usage {
        Usage {
            keys: usage.keys.saturating_add_signed(self.keys),
            bytes: usage.bytes.saturating_add_signed(self.bytes),
        }
    }
}

impl Change {
    /// How `ops`, applied in order, change a store's usage; `stored` gives a key's value
    /// size before the batch (later operations see earlier ones).
    pub fn of_batch<E>(
        ops: &[BatchOp],
        mut stored: impl FnMut(&str) -> Result<Option<usize>, E>,
    ) -> Result<Self, E> {
        let mut sizes: std::collections::HashMap<&str, Option<usize>> = Default::default();
        let mut change = Self::default();
        for op in ops {
            let key = op.key();
            let old = match sizes.get(key) {
                Some(s) => *s,
                None => stored(key)?,
            };
            change.remove(key, old);
            let new = match op {
                BatchOp::Put { value, .. } => Some(value.len()),
                BatchOp::Delete { .. } => None,
            };
            if let Some(len) = new {
                change.add(key, len);
            }
            sizes.insert(key, new);
        }
        Ok(change)
    }
}

/// `usage` after `change`, or the quota it would break. A change that does not grow a
/// figure never breaks it (so a store above a lowered limit can still shrink).
pub fn check_quota(
    store: &StoreId,
    usage: Usage,
    change: Change,
    quota: StoreQuota,
) -> Result<Usage, BackendError> {
    let new = change.apply(usage);
    let over = |what, limit, asked, grows| {
        (grows && asked > limit).then(|| BackendError::Quota {
            store: store.clone(),
            what,
            limit,
            asked,
        })
    };
    if let Some(e) = over("keys", quota.max_keys, new.keys, change.keys > 0) {
        return Err(e);
    }
    if let Some(e) = over("bytes", quota.max_bytes, new.bytes, change.bytes > 0) {
        return Err(e);
    }
    Ok(new)
}

/// Whether a write under `condition` may happen to a key whose revision is `current`.
pub fn holds(current: Option<Revision>, condition: Condition) -> bool {
    match condition {
        Condition::Always => true,
        Condition::Absent => current.is_none(),
        Condition::Revision(r) => current == Some(r),
    }
}

impl BatchOp {
    /// The key this operation writes.
    pub fn key(&self) -> &str {
        match self {
            BatchOp::Put { key, .. } | BatchOp::Delete { key } => key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_pass_at_the_limit_and_fail_one_past() {
        let store = StoreId::new("a", "s");
        let quota = StoreQuota {
            max_keys: 2,
            max_bytes: 10,
        };
        let usage = Usage { keys: 1, bytes: 5 };
        let mut at = Change::default();
        at.add("k", 4);
        assert_eq!(
            check_quota(&store, usage, at, quota).unwrap(),
            Usage { keys: 2, bytes: 10 }
        );
        let mut past = Change::default();
        past.add("k", 5);
        let err = check_quota(&store, usage, past, quota)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "store \"s\" of app \"a\" would hold 11 bytes, past its limit of 10"
        );
    }

    #[test]
    fn shrinking_is_allowed_above_a_lowered_limit() {
        let store = StoreId::new("a", "s");
        let quota = StoreQuota {
            max_keys: 1,
            max_bytes: 1,
        };
        let mut change = Change::default();
        change.remove("k", Some(3));
        let usage = Usage { keys: 5, bytes: 50 };
        assert_eq!(
            check_quota(&store, usage, change, quota).unwrap(),
            Usage { keys: 4, bytes: 46 }
        );
    }
}
