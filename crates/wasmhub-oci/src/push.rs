//! Publishing a component to a registry, keeping a copy in the store.

use std::cell::RefCell;
use std::path::Path;

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use oci_client::errors::OciDistributionError;
use oci_wasm::WASM_MANIFEST_MEDIA_TYPE;

use crate::digest::Digest;
use crate::layout;
use crate::progress::{Progress, human};
use crate::reference::Reference;
use crate::registry::{Options, Session};
use crate::store::Store;

/// What a push published.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The manifest's digest (the artifact's identity).
    pub manifest: Digest,
    /// The component's digest.
    pub component: Digest,
    /// Bytes uploaded (0 for blobs the registry already had).
    pub uploaded: u64,
}

/// Whether `tag` is a semantic version (`1.2.0`, `1.0.0-rc.1+build.5`).
pub fn is_semver(tag: &str) -> bool {
    let core = tag.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

/// Publishes `component` as `reference` (a semver tag) and keeps a copy in the store.
pub async fn push(
    store: &Store,
    component: &Path,
    reference: &Reference,
    opts: &Options,
) -> Result<Pushed> {
    let tag = match (&reference.tag, &reference.digest) {
        (Some(tag), None) => tag.clone(),
        _ => bail!(
            "{reference}: push to a tag, like {}/{}:1.0.0 (a digest names what was pushed)",
            reference.registry,
            reference.repository
        ),
    };
    if !is_semver(&tag) {
        bail!(
            "{reference}: tag {tag:?} is not a semantic version: tag components with their version, like 1.2.0 or 1.2.0-rc.1"
        );
    }
    let bytes =
        std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0, 0x01, 0]) => {}
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => bail!(
            "{} is a core wasm module, not a component: wrap it first (`wasm-tools component new`)",
            component.display()
        ),
        _ => bail!("{} is not a WebAssembly component", component.display()),
    }
    let name = component.file_name().map_or_else(
        || "component.wasm".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let artifact = layout::artifact(bytes, &tag, &name)?;
    let s = Session::new(reference, opts)?;
    s.client
        .store_auth_if_needed(&reference.registry, &s.auth)
        .await;
    let mut uploaded = 0;
    let layer_digest = Digest::of(&artifact.layer.data);
    let config_digest = Digest::of(&artifact.config.data);
    // A registry that cannot say whether it has a blob is failing: an error, not "absent".
    let exists = |d: &Digest| {
        let d = d.to_string();
        let s = &s;
        async move {
            s.client.blob_exists(&s.target, &d).await.map_err(|e| {
                s.explain(e)
                    .context(format!("cannot ask the registry whether it holds blob {d}"))
            })
        }
    };
    if !exists(&layer_digest).await? {
        let data = artifact.layer.data.clone();
        let bar = RefCell::new(Progress::new(
            format!("pushing {}", reference.repository),
            data.len() as u64,
            opts.progress,
        ));
        let chunks: Vec<bytes::Bytes> = (0..data.len())
            .step_by(1 << 20)
            .map(|i| data.slice(i..(i + (1 << 20)).min(data.len())))
            .collect();
        let stream = futures_util::stream::iter(chunks).map(|c| {
            bar.borrow_mut().add(c.len() as u64);
            Ok::<_, OciDistributionError>(c)
        });
        s.client
            .push_blob_stream(&s.target, stream, &layer_digest.to_string())
            .await
            .map_err(|e| s.explain(e))?;
        bar.into_inner().finish();
        uploaded += data.len() as u64;
    }
    if !exists(&config_digest).await? {
        s.client
            .push_blob(
                &s.target,
                artifact.config.data.clone(),
                &config_digest.to_string(),
            )
            .await
            .map_err(|e| s.explain(e))?;
        uploaded += artifact.config.data.len() as u64;
    }
    s.client
        .push_manifest_raw(
            &s.target,
            artifact.manifest_bytes.clone(),
            reqwest::header::HeaderValue::from_static(WASM_MANIFEST_MEDIA_TYPE),
        )
        .await
        .map_err(|e| s.explain(e))?;
    let writer = store.writer()?;
    let manifest = writer.put(&artifact.manifest_bytes)?;
    writer.put(&artifact.layer.data)?;
    writer.put(&artifact.config.data)?;
    writer.set_ref(reference, &manifest)?;
    drop(writer);
    tracing::debug!(
        "pushed {reference}@{manifest}, {} uploaded",
        human(uploaded)
    );
    Ok(Pushed {
        manifest,
        component: layer_digest,
        uploaded,
    })
}

#[cfg(test)]
mod tests {
    use super::is_semver;

    #[test]
    fn semver_tags() {
        for ok in ["1.2.0", "0.1.0-rc.1", "10.0.3+build.5"] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["latest", "1.2", "v1.2.0", "01.2.0", "1..0"] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
