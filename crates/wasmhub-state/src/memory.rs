//! A throwaway backend in memory (`--kv memory`): the same semantics, lost at exit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::backend::{
    BackendError, BackendInfo, BatchOp, Condition, Entry, KvBackend, Page, StoreId, StoreQuota,
    Usage, Written,
};
use crate::quota::{Change, check_quota, holds};

/// Every store's keys in one map behind a lock; nothing reaches a disk.
#[derive(Default)]
pub struct MemoryBackend {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The last revision handed out (shared by every store, so never reused).
    revision: u64,
    stores: HashMap<StoreId, Store>,
}

#[derive(Default)]
struct Store {
    entries: BTreeMap<String, Entry>,
    usage: Usage,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The usage of `store` counted from its entries (to compare with [`KvBackend::usage`]).
    pub fn recount(&self, store: &StoreId) -> Usage {
        let state = self.lock();
        let mut usage = Usage::default();
        if let Some(s) = state.stores.get(store) {
            for (key, entry) in &s.entries {
                usage.keys += 1;
                usage.bytes += (key.len() + entry.value.len()) as u64;
            }
        }
        usage
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied write: every write
        // decides first, then applies with infallible map operations.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl KvBackend for MemoryBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "memory",
            location: "memory (lost at exit)".into(),
            durable: false,
        }
    }

    async fn get(&self, store: &StoreId, key: &str) -> Result<Option<Entry>, BackendError> {
        let state = self.lock();
        Ok(state
            .stores
            .get(store)
            .and_then(|s| s.entries.get(key))
            .cloned())
    }

    async fn put(
        &self,
        store: &StoreId,
        key: &str,
        value: Vec<u8>,
        condition: Condition,
        quota: StoreQuota,
    ) -> Result<Written, BackendError> {
        let mut state = self.lock();
        let state = &mut *state;
        let s = state.stores.entry(store.clone()).or_default();
        let old = s.entries.get(key);
        if !holds(old.map(|e| e.revision), condition) {
            return Ok(Written::Conflict(old.map(|e| e.revision)));
        }
        let mut change = Change::default();
        change.remove(key, old.map(|e| e.value.len()));
        change.add(key, value.len());
        s.usage = check_quota(store, s.usage, change, quota)?;
        state.revision += 1;
        let revision = state.revision;
        s.entries.insert(key.to_owned(), Entry { value, revision });
        Ok(Written::Done(Some(revision)))
    }

    async fn delete(
        &self,
        store: &StoreId,
        key: &str,
        condition: Condition,
    ) -> Result<Written, BackendError> {
        let mut state = self.lock();
        let Some(s) = state.stores.get_mut(store) else {
            return Ok(match condition {
                Condition::Revision(_) => Written::Conflict(None),
                _ => Written::Done(None),
            });
        };
        let old = s.entries.get(key);
        if !holds(old.map(|e| e.revision), condition) {
            return Ok(Written::Conflict(old.map(|e| e.revision)));
        }
        let old = s.entries.remove(key);
        let mut change = Change::default();
        change.remove(key, old.as_ref().map(|e| e.value.len()));
        s.usage = change.apply(s.usage);
        Ok(Written::Done(old.map(|e| e.revision)))
    }

    async fn batch(
        &self,
        store: &StoreId,
        ops: Vec<BatchOp>,
        quota: StoreQuota,
    ) -> Result<(), BackendError> {
        let mut state = self.lock();
        let state = &mut *state;
        let s = state.stores.entry(store.clone()).or_default();
        // Decide on the whole batch first (later operations see earlier ones), then apply.
        let change = Change::of_batch(&ops, |key| {
            Ok::<_, BackendError>(s.entries.get(key).map(|e| e.value.len()))
        })?;
        let usage = check_quota(store, s.usage, change, quota)?;
        for op in ops {
            match op {
                BatchOp::Put { key, value } => {
                    state.revision += 1;
                    let revision = state.revision;
                    s.entries.insert(key, Entry { value, revision });
                }
                BatchOp::Delete { key } => {
                    s.entries.remove(&key);
                }
            }
        }
        s.usage = usage;
        Ok(())
    }

    fn atomic_batches(&self) -> bool {
        true
    }

    async fn list(
        &self,
        store: &StoreId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, BackendError> {
        use std::ops::Bound;
        let state = self.lock();
        let Some(s) = state.stores.get(store) else {
            return Ok(Page {
                keys: Vec::new(),
                next: None,
            });
        };
        let start = match after {
            Some(a) => Bound::Excluded(a),
            None => Bound::Unbounded,
        };
        let mut range = s
            .entries
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(k, _)| k.clone());
        let keys: Vec<String> = range.by_ref().take(limit).collect();
        let next = if range.next().is_some() {
            keys.last().cloned()
        } else {
            None
        };
        Ok(Page { keys, next })
    }

    async fn usage(&self, store: &StoreId) -> Result<Usage, BackendError> {
        Ok(self
            .lock()
            .stores
            .get(store)
            .map(|s| s.usage)
            .unwrap_or_default())
    }

    async fn stores(&self, app: &str) -> Result<Vec<String>, BackendError> {
        let state = self.lock();
        let mut labels: Vec<String> = state
            .stores
            .iter()
            .filter(|(id, s)| id.app == app && !s.entries.is_empty())
            .map(|(id, _)| id.label.clone())
            .collect();
        labels.sort();
        Ok(labels)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::MemoryBackend;
    use crate::backend::KvBackend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_backend_conforms() {
        crate::conformance::run_all(|| Arc::new(MemoryBackend::new()) as Arc<dyn KvBackend>).await;
    }

    #[test]
    fn memory_backend_says_it_is_not_durable() {
        let info = MemoryBackend::new().info();
        assert!(!info.durable && info.location.contains("lost at exit"));
    }
}
