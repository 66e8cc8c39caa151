//! Turning a revision of the desired state into files a host can serve: each component's
//! blob fetched from the Object Store (unless already here) and checked against its sha256,
//! and the manifest beside them.

use std::path::{Path, PathBuf};

use async_nats::jetstream::object_store::ObjectStore;
use wasmhub_cluster::blobs::{self, BlobError};
use wasmhub_cluster::desired::{self, Desired};

/// Whether `e` (from [`write_out`]) may pass on a later try (NATS unreachable), unlike
/// bytes that do not match their digest.
pub fn is_transient(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<BlobError>(),
        Some(BlobError::Fetch { .. } | BlobError::Store(_))
    )
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> anyhow::Error + '_ {
    move |e| anyhow::Error::new(e).context(format!("cannot write {}", path.display()))
}

/// Writes revision `d` under `dir`; the path of its manifest.
pub async fn write_out(store: &ObjectStore, dir: &Path, d: &Desired) -> anyhow::Result<PathBuf> {
    let blob_dir = dir.join(desired::BLOB_DIR);
    std::fs::create_dir_all(&blob_dir).map_err(io(&blob_dir))?;
    for (component, sha) in &d.components {
        let path = dir.join(desired::blob_source(sha));
        // Only checked bytes are ever written under their digest's name.
        if path.is_file() {
            continue;
        }
        let bytes = blobs::fetch_verified(store, component, sha).await?;
        let partial = path.with_extension("partial");
        std::fs::write(&partial, &bytes).map_err(io(&partial))?;
        std::fs::rename(&partial, &path).map_err(io(&path))?;
    }
    let manifest = dir.join(format!("revision-{}.toml", d.revision));
    std::fs::write(&manifest, &d.manifest).map_err(io(&manifest))?;
    Ok(manifest)
}
