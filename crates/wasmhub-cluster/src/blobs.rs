//! Component code in the JetStream Object Store [`STORE`], one object per blob named by the
//! sha256 of its bytes: uploaded once by whichever deploy first needs it, and checked by
//! every host against that digest before use.

use async_nats::jetstream::{self, object_store};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

/// The Object Store holding component blobs.
pub const STORE: &str = "wasmhub_blobs";

/// Why a blob could not be stored or fetched.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The Object Store could not be opened or made.
    #[error("cannot open the object store {STORE} on NATS; check that JetStream is enabled")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Uploading failed.
    #[error("cannot upload the code of component {component:?} (sha256 {sha256})")]
    Upload {
        /// The component.
        component: String,
        /// Its digest.
        sha256: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Fetching failed.
    #[error(
        "cannot fetch the code of component {component:?} (sha256 {sha256}); deploy again to upload it"
    )]
    Fetch {
        /// The component.
        component: String,
        /// Its digest.
        sha256: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The stored bytes are not the ones deployed.
    #[error(
        "refused the code of component {component:?}: blob {sha256} in {STORE} hashes to {actual}, so it is not the code that was deployed (tampered or corrupted); deploy again"
    )]
    Tampered {
        /// The component.
        component: String,
        /// The digest it was deployed with.
        sha256: String,
        /// The digest of the bytes found.
        actual: String,
    },
}

/// The sha256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The blob store, made (with `replicas`) if it does not exist yet.
pub async fn open(
    js: &jetstream::Context,
    replicas: usize,
) -> Result<object_store::ObjectStore, BlobError> {
    if let Ok(store) = js.get_object_store(STORE).await {
        return Ok(store);
    }
    let made = js
        .create_object_store(object_store::Config {
            bucket: STORE.into(),
            description: Some("wasmhub component code, by sha256".into()),
            num_replicas: replicas,
            ..Default::default()
        })
        .await;
    let store = match made {
        Ok(store) => store,
        // Another deploy made it meanwhile.
        Err(e) => js
            .get_object_store(STORE)
            .await
            .map_err(|_| BlobError::Store(Box::new(e)))?,
    };
    crate::connection::settle(|| async {
        match store.info("settle").await {
            Ok(_) => true,
            Err(e) => e.kind() == object_store::InfoErrorKind::NotFound,
        }
    })
    .await;
    Ok(store)
}

/// Uploads `bytes`, the code of `component` with digest `sha256`, unless the store has it;
/// whether it was uploaded.
pub async fn upload_missing(
    store: &object_store::ObjectStore,
    component: &str,
    sha256: &str,
    bytes: &[u8],
) -> Result<bool, BlobError> {
    let upload = |source: Box<dyn std::error::Error + Send + Sync>| BlobError::Upload {
        component: component.to_owned(),
        sha256: sha256.to_owned(),
        source,
    };
    match store.info(sha256).await {
        Ok(info) if !info.deleted => return Ok(false),
        Ok(_) => {}
        Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => {}
        Err(e) => return Err(upload(Box::new(e))),
    }
    let mut reader = bytes;
    store
        .put(sha256, &mut reader)
        .await
        .map_err(|e| upload(Box::new(e)))?;
    Ok(true)
}

/// The code of `component`, blob `sha256`, checked to hash to it.
pub async fn fetch_verified(
    store: &object_store::ObjectStore,
    component: &str,
    sha256: &str,
) -> Result<Vec<u8>, BlobError> {
    let fetch = |source: Box<dyn std::error::Error + Send + Sync>| BlobError::Fetch {
        component: component.to_owned(),
        sha256: sha256.to_owned(),
        source,
    };
    let mut object = store.get(sha256).await.map_err(|e| fetch(Box::new(e)))?;
    let mut bytes = Vec::new();
    object
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| fetch(Box::new(e)))?;
    let actual = sha256_hex(&bytes);
    if actual != sha256 {
        return Err(BlobError::Tampered {
            component: component.to_owned(),
            sha256: sha256.to_owned(),
            actual,
        });
    }
    Ok(bytes)
}
