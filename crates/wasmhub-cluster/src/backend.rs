//! [`NatsBackend`]: key-value stores in NATS JetStream KV buckets, one per app and label.
//!
//! Revisions are the bucket stream's sequence numbers (increasing, never reused). Every
//! write is conditional on the key's last sequence as read (NATS's
//! `Nats-Expected-Last-Subject-Sequence`), whatever the caller's [`Condition`], so usage
//! stays exact when writers race: a write that loses reads again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::TryStreamExt;
use wasmhub_state::{
    BackendError, BackendInfo, BatchOp, Condition, Entry, KvBackend, KvLimits, Page, StoreId,
    StoreQuota, Usage, Written,
};

use crate::connection::{ConnectError, REQUEST_TIMEOUT};
use crate::names;

/// How often one call re-reads after losing a race before it gives up.
pub(crate) const MAX_ATTEMPTS: u32 = 10_000;

/// Longest one backend call may take in all (retries included): past it the call fails,
/// naming the server, so a guest never waits on an unreachable NATS.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one read or write keeps retrying a failure that losing a NATS node explains
/// (a timeout, no responders, no leader yet): a 3-node cluster elects a new leader within
/// a few seconds; the rest is room for a loaded machine (10 s was exceeded with the CPU
/// four times oversubscribed). A write is retried with the same `Nats-Msg-Id`, so the
/// server applies it at most once.
pub const FAILOVER_WITHIN: Duration = Duration::from_secs(20);

/// Waits between retries of a failed read or write.
const FAILOVER_PAUSE: Duration = Duration::from_millis(100);

/// Waits a little after a lost race, longer as losses repeat (at most 10 ms).
pub(crate) async fn lost_race(attempt: u32) {
    if attempt < 2 {
        tokio::task::yield_now().await;
    } else {
        tokio::time::sleep(Duration::from_micros(u64::from(attempt.min(100)) * 100)).await;
    }
}

/// Whether a publish was refused because the key's last sequence was not the expected one
/// (the server answers 10071, or 10164 on some paths the client does not classify).
fn lost(e: &async_nats::jetstream::context::PublishError) -> bool {
    use async_nats::jetstream::ErrorCode;
    if e.kind() == PublishErrorKind::WrongLastSequence {
        return true;
    }
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<async_nats::jetstream::Error>())
        .is_some_and(|j| {
            matches!(
                j.error_code(),
                ErrorCode::STREAM_WRONG_LAST_SEQUENCE
                    | ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
            )
        })
}

/// Key-value stores in JetStream KV buckets of one NATS server or cluster.
pub struct NatsBackend {
    url: String,
    client: async_nats::Client,
    js: jetstream::Context,
    buckets: Mutex<HashMap<StoreId, kv::Store>>,
    /// Held while a bucket is opened or made, so concurrent first uses make it once.
    opening: tokio::sync::Mutex<()>,
    replicas: Option<usize>,
    max_value_bytes: usize,
}

impl NatsBackend {
    /// A backend on the NATS server at `url` (`nats://HOST:PORT`, or several
    /// comma-separated servers of one cluster). Returns at once even if
    /// the server is down: the client reconnects forever in the background, and each call
    /// made meanwhile fails within [`FAILOVER_WITHIN`] plus [`REQUEST_TIMEOUT`], naming the server.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let client = crate::connection::connect(url, "wasmhub", &crate::Access::default()).await?;
        Ok(Self::on(client, url))
    }

    /// A backend on `client`, connected to `url` (named in errors).
    pub fn on(client: async_nats::Client, url: &str) -> Self {
        let mut js = jetstream::new(client.clone());
        js.set_timeout(REQUEST_TIMEOUT);
        Self {
            url: url.to_owned(),
            client,
            js,
            buckets: Mutex::default(),
            opening: tokio::sync::Mutex::default(),
            replicas: None,
            max_value_bytes: KvLimits::default().max_value_bytes,
        }
    }

    /// Makes new buckets with `n` replicas (else 3 when the server is in a cluster of 3 or
    /// more, 1 otherwise).
    pub fn with_replicas(mut self, n: usize) -> Self {
        self.replicas = Some(n);
        self
    }

    /// Makes new buckets refuse values over `n` bytes (default: the default value limit;
    /// the exact per-store limit is checked above the backend).
    pub fn with_max_value_bytes(mut self, n: usize) -> Self {
        self.max_value_bytes = n;
        self
    }

    /// The replicas of a new bucket.
    fn replicas(&self) -> usize {
        self.replicas
            .unwrap_or_else(|| crate::connection::replicas(&self.client))
    }

    /// A failure of `what` on this server, keeping the cause.
    pub(crate) fn failed(
        &self,
        store: &StoreId,
        what: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> BackendError {
        BackendError::Failed {
            store: store.clone(),
            message: format!(
                "{what} failed on NATS server {}; check that it is running and reachable",
                self.url
            ),
            source: Some(Box::new(source)),
        }
    }

    /// A call that lost every race.
    pub(crate) fn contended(&self, store: &StoreId) -> BackendError {
        BackendError::Failed {
            store: store.clone(),
            message: format!(
                "lost to other writers {MAX_ATTEMPTS} times in a row on NATS server {}; nothing was written, try again",
                self.url
            ),
            source: None,
        }
    }

    /// Runs `call` within [`CALL_TIMEOUT`].
    async fn bounded<T>(
        &self,
        store: &StoreId,
        what: &str,
        call: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(r) => r,
            Err(elapsed) => Err(self.failed(store, what, elapsed)),
        }
    }

    /// The bucket of `store`, made on first use.
    pub(crate) async fn bucket(&self, store: &StoreId) -> Result<kv::Store, BackendError> {
        if let Some(b) = self.lock().get(store) {
            return Ok(b.clone());
        }
        let _opening = self.opening.lock().await;
        if let Some(b) = self.lock().get(store) {
            return Ok(b.clone());
        }
        let name = names::bucket(&store.app, &store.label);
        let started = Instant::now();
        let kv = loop {
            let opened = match self.js.get_key_value(&name).await {
                Ok(kv) if !kv.stream.cached_info().config.allow_direct => Ok(kv),
                _ => self.create_bucket(store, &name).await,
            };
            match opened {
                Ok(kv) => break kv,
                Err(_) if started.elapsed() < FAILOVER_WITHIN => {
                    tokio::time::sleep(FAILOVER_PAUSE).await;
                }
                Err(e) => return Err(e),
            }
        };
        self.lock().insert(store.clone(), kv.clone());
        Ok(kv)
    }

    /// Makes (or finishes making) bucket `name`: one value per key, reads from the leader.
    async fn create_bucket(&self, store: &StoreId, name: &str) -> Result<kv::Store, BackendError> {
        let created = self
            .js
            .create_key_value(kv::Config {
                bucket: name.to_owned(),
                description: format!("wasmhub {store}"),
                history: 1,
                num_replicas: self.replicas(),
                max_value_size: i32::try_from(self.max_value_bytes).unwrap_or(i32::MAX),
                max_bytes: -1,
                ..Default::default()
            })
            .await;
        // Another host may have made it meanwhile: then use theirs.
        let kv = match created {
            Ok(kv) => kv,
            Err(e) => match self.js.get_key_value(name).await {
                Ok(kv) => kv,
                Err(_) => return Err(self.failed(store, "making the bucket", e)),
            },
        };
        let mut config = kv.stream.cached_info().config.clone();
        if !config.allow_direct {
            return Ok(kv);
        }
        // Direct gets may be answered by a follower that has not yet applied the last
        // write; reads through the leader see every acknowledged write.
        config.allow_direct = false;
        self.js
            .update_stream(&config)
            .await
            .map_err(|e| self.failed(store, "configuring the bucket", e))?;
        self.js
            .get_key_value(name)
            .await
            .map_err(|e| self.failed(store, "opening the bucket", e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<StoreId, kv::Store>> {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The last sequence written to NATS key `key` (0: never; a delete marker counts) and
    /// its value if it holds one.
    pub(crate) async fn last(
        &self,
        kv: &kv::Store,
        store: &StoreId,
        key: &str,
    ) -> Result<(u64, Option<Entry>), BackendError> {
        let started = Instant::now();
        let entry = loop {
            match kv.entry(key).await {
                Ok(entry) => break entry,
                Err(_) if started.elapsed() < FAILOVER_WITHIN => {
                    tokio::time::sleep(FAILOVER_PAUSE).await;
                }
                Err(e) => return Err(self.failed(store, "a read", e)),
            }
        };
        match entry {
            None => Ok((0, None)),
            Some(e) if e.operation == kv::Operation::Put => Ok((
                e.revision,
                Some(Entry {
                    value: e.value.to_vec(),
                    revision: e.revision,
                }),
            )),
            Some(e) => Ok((e.revision, None)),
        }
    }

    /// Writes `value` (or a delete marker) to NATS key `key` if its last sequence is still
    /// `expected`: the new sequence, or `None` if another write came first. A failure is
    /// retried for [`FAILOVER_WITHIN`] under one message id: a write the server applied
    /// but whose acknowledgement was lost is then acknowledged, not applied twice.
    pub(crate) async fn publish(
        &self,
        kv: &kv::Store,
        store: &StoreId,
        key: &str,
        value: Bytes,
        expected: u64,
        delete: bool,
    ) -> Result<Option<u64>, BackendError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            "Nats-Expected-Last-Subject-Sequence",
            expected.to_string().as_str(),
        );
        if delete {
            headers.insert("KV-Operation", "DEL");
        }
        headers.insert("Nats-Msg-Id", nuid::next().as_str());
        let subject = format!("{}{key}", kv.prefix);
        let started = Instant::now();
        loop {
            let sent = self
                .js
                .publish_with_headers(subject.clone(), headers.clone(), value.clone())
                .await;
            let error = match sent {
                Ok(ack) => match ack.await {
                    Ok(ack) => return Ok(Some(ack.sequence)),
                    Err(e) if lost(&e) => return Ok(None),
                    Err(e) => self.failed(store, "a write", e),
                },
                Err(e) => self.failed(store, "a write", e),
            };
            if started.elapsed() >= FAILOVER_WITHIN {
                return Err(error);
            }
            tokio::time::sleep(FAILOVER_PAUSE).await;
        }
    }
}

#[async_trait::async_trait]
impl KvBackend for NatsBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "nats",
            location: self.url.clone(),
            durable: true,
        }
    }

    async fn get(&self, store: &StoreId, key: &str) -> Result<Option<Entry>, BackendError> {
        self.bounded(store, "a read", async {
            let kv = self.bucket(store).await?;
            Ok(self.last(&kv, store, &names::key(key)).await?.1)
        })
        .await
    }

    async fn put(
        &self,
        store: &StoreId,
        key: &str,
        value: Vec<u8>,
        condition: Condition,
        quota: StoreQuota,
    ) -> Result<Written, BackendError> {
        let value = Bytes::from(value);
        self.bounded(
            store,
            "a write",
            self.put_once(store, key, value, condition, quota),
        )
        .await
    }

    async fn delete(
        &self,
        store: &StoreId,
        key: &str,
        condition: Condition,
    ) -> Result<Written, BackendError> {
        self.bounded(store, "a delete", self.delete_once(store, key, condition))
            .await
    }

    async fn batch(
        &self,
        store: &StoreId,
        ops: Vec<BatchOp>,
        quota: StoreQuota,
    ) -> Result<(), BackendError> {
        self.precheck(store, &ops, quota).await?;
        for op in ops {
            match op {
                BatchOp::Put { key, value } => {
                    self.put(store, &key, value, Condition::Always, quota)
                        .await?;
                }
                BatchOp::Delete { key } => {
                    self.delete(store, &key, Condition::Always).await?;
                }
            }
        }
        Ok(())
    }

    fn atomic_batches(&self) -> bool {
        false
    }

    async fn list(
        &self,
        store: &StoreId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, BackendError> {
        self.bounded(store, "listing keys", self.list_page(store, after, limit))
            .await
    }

    async fn usage(&self, store: &StoreId) -> Result<Usage, BackendError> {
        self.bounded(store, "reading usage", async {
            let kv = self.bucket(store).await?;
            Ok(self.read_usage(&kv, store).await?.1)
        })
        .await
    }

    async fn stores(&self, app: &str) -> Result<Vec<String>, BackendError> {
        let any = StoreId::new(app, "");
        let names: Vec<String> = self
            .bounded(&any, "listing buckets", async {
                self.js
                    .stream_names()
                    .try_collect()
                    .await
                    .map_err(|e| self.failed(&any, "listing buckets", e))
            })
            .await?;
        let mut labels = Vec::new();
        for name in names {
            let Some(label) = name
                .strip_prefix("KV_")
                .and_then(|b| names::label_of(app, b))
            else {
                continue;
            };
            if self.usage(&StoreId::new(app, label.clone())).await?.keys > 0 {
                labels.push(label);
            }
        }
        labels.sort();
        Ok(labels)
    }
}
