//! Host liveness: each host puts a report (app, address, the revision it serves, health,
//! last error) under its id in the KV bucket [`BUCKET`] every [`HEARTBEAT`]; the bucket's
//! max age is [`HOST_TTL`], so the report of a host that stops (or loses NATS) expires and
//! the host leaves `cluster status` within [`HOST_TTL`] plus about a second.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, kv};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

/// The KV bucket of host reports.
pub const BUCKET: &str = "wasmhub_hosts";

/// How often a host reports.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long a report lives: a host missing this many heartbeats is gone.
pub const HOST_TTL: Duration = Duration::from_secs(5);

/// What one host says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostReport {
    /// Its id, unique in the cluster.
    pub id: String,
    /// The app it serves.
    pub app: String,
    /// Its HTTP address.
    pub addr: String,
    /// The revision it serves, once it serves one.
    pub revision: Option<u64>,
    /// The newest revision it has seen.
    pub current: Option<u64>,
    /// Whether it is draining (stopping).
    pub draining: bool,
    /// Why the newest revision is not served, if it failed.
    pub error: Option<String>,
    /// When it started (ms since the Unix epoch, its clock).
    pub started_ms: u64,
    /// When it sent this report (ms since the Unix epoch, its clock).
    pub sent_ms: u64,
}

impl HostReport {
    /// `ready` (serving the newest revision), `draining`, `failing` (the newest revision
    /// could not be prepared), `starting` (nothing served yet) or `updating`.
    pub fn health(&self) -> &'static str {
        if self.draining {
            "draining"
        } else if self.error.is_some() {
            "failing"
        } else if self.revision.is_none() {
            "starting"
        } else if self.revision == self.current {
            "ready"
        } else {
            "updating"
        }
    }

    /// How long ago it was sent, by this machine's clock.
    pub fn age(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.sent_ms))
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Why reports could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum HostsError {
    /// The bucket could not be opened or made.
    #[error("cannot open the KV bucket {BUCKET} on NATS; check that JetStream is enabled")]
    Bucket(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A report could not be written or read.
    #[error("cannot {0} host reports on NATS")]
    Io(
        &'static str,
        #[source] Box<dyn std::error::Error + Send + Sync>,
    ),
}

/// The reports bucket, made (with `replicas`) if missing.
pub async fn bucket(js: &jetstream::Context, replicas: usize) -> Result<kv::Store, HostsError> {
    if let Ok(kv) = js.get_key_value(BUCKET).await {
        return Ok(kv);
    }
    let made = js
        .create_key_value(kv::Config {
            bucket: BUCKET.into(),
            description: "wasmhub: live hosts".into(),
            history: 1,
            max_age: HOST_TTL,
            num_replicas: replicas,
            ..Default::default()
        })
        .await;
    let kv = match made {
        Ok(kv) => kv,
        Err(e) => js
            .get_key_value(BUCKET)
            .await
            .map_err(|_| HostsError::Bucket(Box::new(e)))?,
    };
    crate::connection::settle(|| async { kv.entry("settle").await.is_ok() }).await;
    Ok(kv)
}

/// Writes `report` (a heartbeat).
pub async fn beat(kv: &kv::Store, report: &HostReport) -> Result<(), HostsError> {
    let bytes = serde_json::to_vec(report).expect("a report serialises");
    kv.put(&report.id, bytes.into())
        .await
        .map_err(|e| HostsError::Io("write", Box::new(e)))?;
    Ok(())
}

/// Removes host `id`'s report (a clean stop).
pub async fn leave(kv: &kv::Store, id: &str) -> Result<(), HostsError> {
    kv.delete(id)
        .await
        .map_err(|e| HostsError::Io("delete", Box::new(e)))
}

/// Every live host's report, by id; none when no host ever reported.
pub async fn list(js: &jetstream::Context) -> Result<Vec<HostReport>, HostsError> {
    let Ok(kv) = js.get_key_value(BUCKET).await else {
        return Ok(Vec::new());
    };
    let keys: Vec<String> = kv
        .keys()
        .await
        .map_err(|e| HostsError::Io("list", Box::new(e)))?
        .try_collect()
        .await
        .map_err(|e| HostsError::Io("list", Box::new(e)))?;
    let mut out = Vec::new();
    for key in keys {
        let Some(bytes) = kv
            .get(&key)
            .await
            .map_err(|e| HostsError::Io("read", Box::new(e)))?
        else {
            continue;
        };
        // A report from another version, or one past its time: not a live host.
        if let Ok(r) = serde_json::from_slice::<HostReport>(&bytes)
            && r.age() <= HOST_TTL
        {
            out.push(r);
        }
    }
    out.sort_by(|a, b| (&a.app, &a.id).cmp(&(&b.app, &b.id)));
    Ok(out)
}
