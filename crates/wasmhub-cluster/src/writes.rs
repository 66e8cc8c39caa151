//! The writes and listings of [`NatsBackend`], each conditional on what it read.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use futures::TryStreamExt;
use wasmhub_state::quota::{Change, check_quota, holds};
use wasmhub_state::{BackendError, BatchOp, Condition, Page, StoreId, StoreQuota, Written};

use crate::backend::{MAX_ATTEMPTS, NatsBackend, lost_race};
use crate::names;

impl NatsBackend {
    pub(crate) async fn put_once(
        &self,
        store: &StoreId,
        key: &str,
        value: Bytes,
        condition: Condition,
        quota: StoreQuota,
    ) -> Result<Written, BackendError> {
        let kv = self.bucket(store).await?;
        let nkey = names::key(key);
        for attempt in 0..MAX_ATTEMPTS {
            let (last, current) = self.last(&kv, store, &nkey).await?;
            let revision = current.as_ref().map(|e| e.revision);
            if !holds(revision, condition) {
                return Ok(Written::Conflict(revision));
            }
            let mut change = Change::default();
            change.remove(key, current.as_ref().map(|e| e.value.len()));
            change.add(key, value.len());
            let grows = change.keys > 0 || change.bytes > 0;
            if grows && !self.reserve(&kv, store, change, quota).await? {
                lost_race(attempt).await;
                continue;
            }
            match self
                .publish(&kv, store, &nkey, value.clone(), last, false)
                .await?
            {
                Some(rev) => {
                    if !grows && change != Change::default() {
                        self.adjust(&kv, store, change).await?;
                    }
                    return Ok(Written::Done(Some(rev)));
                }
                None if grows => {
                    self.adjust(&kv, store, crate::usage::inverse(change))
                        .await?
                }
                None => {}
            }
            lost_race(attempt).await;
        }
        Err(self.contended(store))
    }

    pub(crate) async fn delete_once(
        &self,
        store: &StoreId,
        key: &str,
        condition: Condition,
    ) -> Result<Written, BackendError> {
        let kv = self.bucket(store).await?;
        let nkey = names::key(key);
        for attempt in 0..MAX_ATTEMPTS {
            let (last, current) = self.last(&kv, store, &nkey).await?;
            let revision = current.as_ref().map(|e| e.revision);
            if !holds(revision, condition) {
                return Ok(Written::Conflict(revision));
            }
            let Some(old) = current else {
                return Ok(Written::Done(None));
            };
            if self
                .publish(&kv, store, &nkey, Bytes::new(), last, true)
                .await?
                .is_some()
            {
                let mut change = Change::default();
                change.remove(key, Some(old.value.len()));
                self.adjust(&kv, store, change).await?;
                return Ok(Written::Done(Some(old.revision)));
            }
            lost_race(attempt).await;
        }
        Err(self.contended(store))
    }

    /// Refuses a batch that, applied to the store as it is now, would break the quota.
    pub(crate) async fn precheck(
        &self,
        store: &StoreId,
        ops: &[BatchOp],
        quota: StoreQuota,
    ) -> Result<(), BackendError> {
        let kv = self.bucket(store).await?;
        let mut sizes: HashMap<&str, Option<usize>> = HashMap::new();
        let mut change = Change::default();
        for op in ops {
            let key = op.key();
            let old = match sizes.get(key) {
                Some(old) => *old,
                None => {
                    let (_, e) = self.last(&kv, store, &names::key(key)).await?;
                    e.map(|e| e.value.len())
                }
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
        let (_, usage) = self.read_usage(&kv, store).await?;
        check_quota(store, usage, change, quota).map(|_| ())
    }

    /// Up to `limit` keys after `after`. The key listing comes from a consumer, which may
    /// run on a replica a moment behind the leader; each key returned is confirmed by a
    /// read through the leader, so a key deleted before the call is never listed.
    pub(crate) async fn list_page(
        &self,
        store: &StoreId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, BackendError> {
        let kv = self.bucket(store).await?;
        let mut keys = Vec::new();
        let mut more = false;
        for key in self.list_all(store, after).await? {
            if self.last(&kv, store, &names::key(&key)).await?.1.is_none() {
                continue;
            }
            if keys.len() == limit {
                more = true;
                break;
            }
            keys.push(key);
        }
        let next = if more { keys.last().cloned() } else { None };
        Ok(Page { keys, next })
    }

    async fn list_all(
        &self,
        store: &StoreId,
        after: Option<&str>,
    ) -> Result<BTreeSet<String>, BackendError> {
        let kv = self.bucket(store).await?;
        let mut keys = kv
            .keys()
            .await
            .map_err(|e| self.failed(store, "listing keys", e))?;
        let mut out = BTreeSet::new();
        while let Some(k) = keys
            .try_next()
            .await
            .map_err(|e| self.failed(store, "listing keys", e))?
        {
            if let Some(key) = names::guest_key(&k)
                && after.is_none_or(|a| key.as_str() > a)
            {
                out.insert(key);
            }
        }
        Ok(out)
    }
}
