//! A host's background work: following the app's desired state (a new revision is written
//! out, checked and prepared off the request path, then swapped in as the next generation)
//! and heartbeating its status. Both keep going while NATS is unreachable: the host serves
//! its last revision and catches up when NATS is back.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv, object_store::ObjectStore};
use wasmhub_cluster::deploy;
use wasmhub_cluster::hosts::{self, HEARTBEAT};

use super::revision::write_out;
use super::status::{Shared, Status};

/// How often a host reads the desired state.
pub const POLL: Duration = Duration::from_millis(500);

/// Who this host is.
#[derive(Clone)]
pub struct Identity {
    /// Its id in the cluster.
    pub id: String,
    /// Its app.
    pub app: String,
    /// Its HTTP address.
    pub addr: String,
    /// When it started (ms since the Unix epoch).
    pub started_ms: u64,
}

/// Where a host keeps revisions, and the manifest its reloader reads.
pub struct Files {
    /// The host's folder.
    pub dir: PathBuf,
    /// The manifest of the revision being prepared or served.
    pub manifest: Arc<Mutex<PathBuf>>,
}

/// The NATS handles a host uses.
pub struct Links {
    /// JetStream.
    pub js: jetstream::Context,
    /// Replicas for buckets the host makes.
    pub replicas: usize,
}

/// Writes out the current revision (if newer than `serving` and not known bad) and returns
/// it with its manifest, or `None` when there is nothing new; failures go into `status`.
pub async fn next_revision(
    links: &Links,
    files: &Files,
    app: &str,
    status: &Shared,
) -> Option<(u64, PathBuf)> {
    let found = async {
        let kv = deploy::bucket(&links.js, None).await?;
        deploy::current(&kv, app).await
    }
    .await;
    let d = match found {
        Ok(Some((_, d))) => d,
        Ok(None) => return None,
        Err(e) => {
            trouble(status, format!("{:#}", anyhow::Error::from(e)));
            return None;
        }
    };
    {
        let mut s = Status::of(status);
        if s.current.is_none_or(|(r, _)| r != d.revision) {
            s.current = Some((d.revision, Instant::now()));
        }
        let known_bad = s.failed.as_ref().is_some_and(|(r, _)| *r == d.revision);
        if s.serving == Some(d.revision) || known_bad {
            s.trouble = None;
            return None;
        }
    }
    let store: ObjectStore = match wasmhub_cluster::blobs::open(&links.js, links.replicas).await {
        Ok(s) => s,
        Err(e) => {
            trouble(status, format!("{:#}", anyhow::Error::from(e)));
            return None;
        }
    };
    match write_out(&store, &files.dir, &d).await {
        Ok(manifest) => Some((d.revision, manifest)),
        Err(e) => {
            let transient = super::revision::is_transient(&e);
            let why = format!("{e:#}");
            if transient {
                trouble(status, why);
            } else {
                tracing::warn!("revision {} refused: {why}", d.revision);
                Status::of(status).failed = Some((d.revision, why));
            }
            None
        }
    }
}

/// Notes a failure that a later try may not have (NATS unreachable), logging it once.
fn trouble(status: &Shared, why: String) {
    let mut s = Status::of(status);
    if s.trouble.as_deref() != Some(why.as_str()) {
        tracing::warn!("cannot follow the desired state (serving on): {why}");
    }
    s.trouble = Some(why);
}

/// Follows the desired state until the process ends: each new revision is prepared by
/// `reload` (off the request path) and swapped in, or recorded as failed.
pub async fn follow(
    links: Arc<Links>,
    files: Files,
    app: String,
    status: Shared,
    reload: wasmhub_http::ReloadHandle,
) {
    loop {
        tokio::time::sleep(POLL).await;
        let Some((revision, manifest)) = next_revision(&links, &files, &app, &status).await else {
            continue;
        };
        *files.manifest.lock().unwrap_or_else(|e| e.into_inner()) = manifest;
        match reload.reload().await {
            Ok(r) => {
                tracing::info!("serving revision {revision} (generation {})", r.generation);
                let mut s = Status::of(&status);
                s.serving = Some(revision);
                s.trouble = None;
            }
            Err(why) => {
                tracing::warn!(
                    "revision {revision} cannot be served; the last one keeps serving: {why}"
                );
                Status::of(&status).failed = Some((revision, why));
            }
        }
    }
}

/// Puts this host's report every [`HEARTBEAT`] until the process ends.
pub async fn heartbeat(links: Arc<Links>, me: Identity, status: Shared) {
    let mut bucket: Option<kv::Store> = None;
    loop {
        if bucket.is_none() {
            bucket = hosts::bucket(&links.js, links.replicas).await.ok();
        }
        if let Some(kv) = &bucket {
            beat_once(kv, &me, &status).await;
        }
        tokio::time::sleep(HEARTBEAT).await;
    }
}

/// Puts one report now (errors are the follower's to report: NATS is down).
pub async fn beat_once(kv: &kv::Store, me: &Identity, status: &Shared) {
    let report = Status::of(status).report(&me.id, &me.app, &me.addr, me.started_ms);
    let _ = tokio::time::timeout(HEARTBEAT * 2, hosts::beat(kv, &report)).await;
}
