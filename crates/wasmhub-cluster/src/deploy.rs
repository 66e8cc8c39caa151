//! Deploying: upload the code the cluster lacks, then write the next revision of the app's
//! desired state, compare-and-set on the revision read (two racing deploys cannot both win).
//! Also reading the current revision, for hosts and `cluster status`.

use std::collections::BTreeMap;

use async_nats::jetstream::{self, kv};

use crate::blobs::{self, BlobError};
use crate::desired::{self, Desired, DesiredError};

/// Revisions of an app kept in the bucket (the newest is the desired state).
const HISTORY: i64 = 10;

/// One component's code, pinned.
pub struct Code {
    /// The component's name.
    pub component: String,
    /// The sha256 of `bytes`.
    pub sha256: String,
    /// The code.
    pub bytes: Vec<u8>,
}

/// What a deploy wrote.
#[derive(Debug)]
pub struct Deployed {
    /// The new desired state.
    pub desired: Desired,
    /// The components whose code was uploaded (the others' was already there).
    pub uploaded: Vec<String>,
}

/// Why a deploy or a read of the desired state failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Storing code failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The document could not be made or read.
    #[error(transparent)]
    Desired(#[from] DesiredError),
    /// The desired-state bucket could not be opened or made.
    #[error(
        "cannot open the KV bucket {} on NATS; check that JetStream is enabled",
        desired::BUCKET
    )]
    Bucket(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Reading or writing the desired state failed.
    #[error("cannot {what} the desired state of app {app:?} on NATS")]
    Io {
        /// Read or write.
        what: &'static str,
        /// The app.
        app: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another deploy wrote a revision since this one read.
    #[error(
        "another deploy of app {app:?} wrote the revision after {after} first; nothing was written, deploy again"
    )]
    Conflict {
        /// The app.
        app: String,
        /// The revision this deploy followed.
        after: u64,
    },
}

/// The desired-state bucket; made with `replicas` when given and missing.
pub async fn bucket(
    js: &jetstream::Context,
    make_with: Option<usize>,
) -> Result<kv::Store, DeployError> {
    let got = js.get_key_value(desired::BUCKET).await;
    match (got, make_with) {
        (Ok(kv), _) => Ok(kv),
        (Err(e), None) => Err(DeployError::Bucket(Box::new(e))),
        (Err(_), Some(replicas)) => {
            let made = js
                .create_key_value(kv::Config {
                    bucket: desired::BUCKET.into(),
                    description: "wasmhub: each app's desired state".into(),
                    history: HISTORY,
                    num_replicas: replicas,
                    ..Default::default()
                })
                .await;
            let kv = match made {
                Ok(kv) => kv,
                Err(e) => js
                    .get_key_value(desired::BUCKET)
                    .await
                    .map_err(|_| DeployError::Bucket(Box::new(e)))?,
            };
            crate::connection::settle(|| async { kv.entry("settle").await.is_ok() }).await;
            Ok(kv)
        }
    }
}

/// The current desired state of `app` and its KV sequence, if it was ever deployed.
pub async fn current(kv: &kv::Store, app: &str) -> Result<Option<(u64, Desired)>, DeployError> {
    let entry = kv
        .entry(desired::key(app))
        .await
        .map_err(|e| DeployError::Io {
            what: "read",
            app: app.to_owned(),
            source: Box::new(e),
        })?;
    match entry {
        Some(e) if e.operation == kv::Operation::Put => {
            Ok(Some((e.revision, Desired::from_bytes(app, &e.value)?)))
        }
        _ => Ok(None),
    }
}

/// Deploys `manifest` (its text) as the next revision of `app`, with `code` for each
/// component: uploads the blobs the cluster lacks, then writes the revision.
pub async fn deploy(
    client: &async_nats::Client,
    app: &str,
    manifest: &str,
    code: Vec<Code>,
) -> Result<Deployed, DeployError> {
    let js = jetstream::new(client.clone());
    let replicas = crate::connection::replicas(client);
    let store = blobs::open(&js, replicas).await?;
    let mut uploaded = Vec::new();
    let mut pins = BTreeMap::new();
    for c in &code {
        if blobs::upload_missing(&store, &c.component, &c.sha256, &c.bytes).await? {
            uploaded.push(c.component.clone());
        }
        pins.insert(c.component.clone(), c.sha256.clone());
    }
    let kv = bucket(&js, Some(replicas)).await?;
    let before = current(&kv, app).await?;
    let desired = write_next(&kv, app, manifest, pins, before).await?;
    Ok(Deployed { desired, uploaded })
}

/// Writes the revision after `before` (what was read: its KV sequence and document) of
/// `app`, only if no other revision was written since.
pub async fn write_next(
    kv: &kv::Store,
    app: &str,
    manifest: &str,
    pins: BTreeMap<String, String>,
    before: Option<(u64, Desired)>,
) -> Result<Desired, DeployError> {
    let after = before.as_ref().map_or(0, |(_, d)| d.revision);
    let desired = Desired::new(app, after + 1, manifest, pins)?;
    let bytes = desired.to_bytes().into();
    let key = desired::key(app);
    let written = match &before {
        Some((seq, _)) => kv.update(&key, bytes, *seq).await.map(|_| ()).map_err(|e| {
            if e.kind() == kv::UpdateErrorKind::WrongLastRevision {
                None
            } else {
                Some(Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            }
        }),
        None => kv.create(&key, bytes).await.map(|_| ()).map_err(|e| {
            if e.kind() == kv::CreateErrorKind::AlreadyExists {
                None
            } else {
                Some(Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            }
        }),
    };
    match written {
        Ok(()) => Ok(desired),
        Err(None) => Err(DeployError::Conflict {
            app: app.to_owned(),
            after,
        }),
        Err(Some(source)) => Err(DeployError::Io {
            what: "write",
            app: app.to_owned(),
            source,
        }),
    }
}

/// Every deployed app and its current revision, by name.
pub async fn apps(js: &jetstream::Context) -> Result<Vec<(String, u64)>, DeployError> {
    use futures::TryStreamExt;
    let Ok(kv) = js.get_key_value(desired::BUCKET).await else {
        return Ok(Vec::new());
    };
    let io = |source: Box<dyn std::error::Error + Send + Sync>| DeployError::Io {
        what: "list",
        app: "*".into(),
        source,
    };
    let keys: Vec<String> = kv
        .keys()
        .await
        .map_err(|e| io(Box::new(e)))?
        .try_collect()
        .await
        .map_err(|e| io(Box::new(e)))?;
    let mut out = Vec::new();
    for key in keys {
        let Some(app) = desired::app_of(&key) else {
            continue;
        };
        if let Some((_, d)) = current(&kv, &app).await? {
            out.push((app, d.revision));
        }
    }
    out.sort();
    Ok(out)
}
