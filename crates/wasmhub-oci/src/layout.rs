//! The CNCF Wasm OCI artifact layout (as `wkg` writes it): one image manifest, a
//! `application/vnd.wasm.config.v0+json` config, exactly one `application/wasm` layer.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use oci_client::annotations;
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_wasm::{
    ToConfig, WASM_LAYER_MEDIA_TYPE, WASM_MANIFEST_CONFIG_MEDIA_TYPE, WASM_MANIFEST_MEDIA_TYPE,
    WasmConfig,
};

use crate::digest::Digest;
use crate::reference::Reference;

/// A component ready to push: manifest, config and layer, with their bytes.
pub struct Artifact {
    /// The image manifest.
    pub manifest: OciImageManifest,
    /// Its serialized form, as pushed (its digest names the artifact).
    pub manifest_bytes: Vec<u8>,
    /// The config blob.
    pub config: Config,
    /// The component layer.
    pub layer: ImageLayer,
}

/// Builds the artifact for `component` tagged `version`: the config lists the world's
/// imports and exports; the manifest carries the version and the component's own
/// description, licenses, source and homepage (as `url`) when it has them.
pub fn artifact(component: Vec<u8>, version: &str, file_name: &str) -> Result<Artifact> {
    let mut notes = BTreeMap::from([(
        annotations::ORG_OPENCONTAINERS_IMAGE_VERSION.to_owned(),
        version.to_owned(),
    )]);
    notes.extend(metadata_annotations(&component));
    let (config, mut layer) = WasmConfig::from_raw_component(component, None)
        .context("this is not a component the Wasm OCI layout can describe")?;
    layer.annotations = Some(BTreeMap::from([(
        annotations::ORG_OPENCONTAINERS_IMAGE_TITLE.to_owned(),
        file_name.to_owned(),
    )]));
    let config = config.to_config()?;
    let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, Some(notes));
    manifest.media_type = Some(WASM_MANIFEST_MEDIA_TYPE.to_owned());
    let manifest_bytes = serde_json::to_vec(&manifest)?;
    Ok(Artifact {
        manifest,
        manifest_bytes,
        config,
        layer,
    })
}

/// OCI annotations from the component's metadata custom sections.
fn metadata_annotations(component: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(payload) = wasm_metadata::Payload::from_binary(component) else {
        return out;
    };
    let m = payload.metadata();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.insert(key.to_owned(), v);
        }
    };
    put(
        annotations::ORG_OPENCONTAINERS_IMAGE_DESCRIPTION,
        m.description.as_ref().map(|d| d.to_string()),
    );
    put(
        annotations::ORG_OPENCONTAINERS_IMAGE_LICENSES,
        m.licenses.as_ref().map(|d| d.to_string()),
    );
    put(
        annotations::ORG_OPENCONTAINERS_IMAGE_SOURCE,
        m.source.as_ref().map(|d| d.to_string()),
    );
    put(
        annotations::ORG_OPENCONTAINERS_IMAGE_URL,
        m.homepage.as_ref().map(|d| d.to_string()),
    );
    put(
        annotations::ORG_OPENCONTAINERS_IMAGE_AUTHORS,
        m.authors.as_ref().map(|d| d.to_string()),
    );
    out
}

/// `bytes` read as a JSON object. serde alone would also take invalid UTF-8 in fields it
/// skips and a struct written as an array (both found by fuzzing `oci_config`).
fn json_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let text = std::str::from_utf8(bytes).context("not UTF-8 JSON")?;
    if !text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        bail!("a JSON object was expected");
    }
    Ok(serde_json::from_str(text)?)
}

/// The manifest in `bytes`, checked to be a Wasm component artifact; returns its config and
/// its single layer. The message says what was found instead.
pub fn check(reference: &Reference, bytes: &[u8]) -> Result<(OciImageManifest, OciDescriptor)> {
    let manifest: OciImageManifest = json_object(bytes).with_context(|| {
        format!("{reference}: the registry's manifest is not an OCI image manifest")
    })?;
    if manifest.config.media_type != WASM_MANIFEST_CONFIG_MEDIA_TYPE {
        bail!(
            "{reference} is not a Wasm component: its config is of type {:?}, expected {WASM_MANIFEST_CONFIG_MEDIA_TYPE:?} (push it with `wasmhub push` or `wkg oci push`)",
            manifest.config.media_type
        );
    }
    let types: Vec<&str> = manifest
        .layers
        .iter()
        .map(|l| l.media_type.as_str())
        .collect();
    match manifest.layers.as_slice() {
        [layer] if layer.media_type == WASM_LAYER_MEDIA_TYPE => {
            Digest::parse(&layer.digest).map_err(|e| anyhow::anyhow!("{reference}: layer {e}"))?;
            Digest::parse(&manifest.config.digest)
                .map_err(|e| anyhow::anyhow!("{reference}: config {e}"))?;
            let layer = layer.clone();
            Ok((manifest, layer))
        }
        _ => bail!(
            "{reference} is not a Wasm component artifact: it has {} layer(s) of type(s) {types:?}; a component artifact has exactly one {WASM_LAYER_MEDIA_TYPE:?} layer",
            types.len()
        ),
    }
}

/// The fields of a Wasm artifact's config that a pull relies on.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFields {
    architecture: String,
    os: String,
    #[serde(default)]
    layer_digests: Vec<String>,
}

/// The config blob in `bytes`, checked to describe a Wasm artifact whose layer is `layer`.
pub fn check_config(reference: &Reference, bytes: &[u8], layer: &str) -> Result<()> {
    let config: ConfigFields = json_object(bytes).with_context(|| {
        format!(
            "{reference}: the registry's config is not a Wasm config (JSON with architecture, \
             os and layerDigests); push the component again with `wasmhub push` or `wkg oci push`"
        )
    })?;
    if config.architecture != "wasm" {
        bail!(
            "{reference}: its config names architecture {:?}, expected \"wasm\"; this is not a \
             Wasm artifact",
            config.architecture
        );
    }
    if !config.layer_digests.is_empty() && !config.layer_digests.iter().any(|d| d == layer) {
        bail!(
            "{reference}: its config lists layers {:?} (os {:?}) but the manifest's layer is \
             {layer}; the artifact is inconsistent, push it again",
            config.layer_digests,
            config.os
        );
    }
    Ok(())
}

/// The component layer's digest and size in a stored manifest.
pub fn component_layer(manifest: &[u8]) -> Result<(Digest, u64)> {
    let m: OciImageManifest = serde_json::from_slice(manifest)?;
    let [layer] = m.layers.as_slice() else {
        bail!("not one layer");
    };
    let digest = Digest::parse(&layer.digest).map_err(anyhow::Error::msg)?;
    Ok((digest, u64::try_from(layer.size).unwrap_or(0)))
}

/// Every blob a stored manifest references (config and layers).
pub fn referenced_blobs(manifest: &[u8]) -> Vec<Digest> {
    let Ok(m) = serde_json::from_slice::<OciImageManifest>(manifest) else {
        return Vec::new();
    };
    std::iter::once(&m.config)
        .chain(&m.layers)
        .filter_map(|d| Digest::parse(&d.digest).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_metadata::{AddMetadata, AddMetadataField};

    #[test]
    fn a_config_must_describe_the_layer_it_comes_with() {
        let r = Reference::parse("127.0.0.1:5000/acme/cart:1.0.0").unwrap();
        let layer = format!("sha256:{}", "a".repeat(64));
        let ok = format!(r#"{{"architecture":"wasm","os":"wasip2","layerDigests":["{layer}"]}}"#);
        check_config(&r, ok.as_bytes(), &layer).unwrap();
        let artifact = artifact(b"\0asm\x0d\0\x01\0".to_vec(), "1.0.0", "c.wasm").unwrap();
        let own = Digest::of(&artifact.layer.data).to_string();
        check_config(&r, &artifact.config.data, &own).unwrap();
        let err = |bytes: &str| {
            format!(
                "{:#}",
                check_config(&r, bytes.as_bytes(), &layer).unwrap_err()
            )
        };
        for not_an_object in ["[]", r#" ["wasm","os",[]]"#, "\"wasm\""] {
            let e = err(not_an_object);
            assert!(e.contains("is not a Wasm config"), "{e}");
        }
        let arm = r#"{"architecture":"arm64","os":"linux"}"#;
        assert!(err(arm).contains("architecture \"arm64\""), "{}", err(arm));
        let other = r#"{"architecture":"wasm","os":"wasip2","layerDigests":["sha256:00"]}"#;
        assert!(
            err(other).contains("the manifest's layer is sha256:aaaa"),
            "{}",
            err(other)
        );
    }

    #[test]
    fn annotations_come_from_the_components_metadata() {
        // The smallest component: header only.
        let empty = b"\0asm\x0d\0\x01\0".to_vec();
        let mut add = AddMetadata::default();
        add.description = AddMetadataField::Set("Prices a cart".parse().unwrap());
        add.licenses = AddMetadataField::Set("Apache-2.0".parse().unwrap());
        add.source = AddMetadataField::Set("https://example.com/acme/cart".parse().unwrap());
        add.homepage = AddMetadataField::Set("https://acme.example".parse().unwrap());
        let component = add.to_wasm(&empty).unwrap();
        let a = artifact(component.clone(), "1.2.0", "cart.wasm").unwrap();
        let notes = a.manifest.annotations.clone().unwrap();
        let get = |k: &str| notes.get(k).map(String::as_str);
        assert_eq!(
            get(annotations::ORG_OPENCONTAINERS_IMAGE_VERSION),
            Some("1.2.0")
        );
        assert_eq!(
            get(annotations::ORG_OPENCONTAINERS_IMAGE_DESCRIPTION),
            Some("Prices a cart")
        );
        assert_eq!(
            get(annotations::ORG_OPENCONTAINERS_IMAGE_LICENSES),
            Some("Apache-2.0")
        );
        assert_eq!(
            get(annotations::ORG_OPENCONTAINERS_IMAGE_SOURCE),
            Some("https://example.com/acme/cart")
        );
        assert_eq!(
            get(annotations::ORG_OPENCONTAINERS_IMAGE_URL),
            Some("https://acme.example/")
        );
        assert_eq!(
            a.manifest.layers[0].digest,
            Digest::of(&component).to_string()
        );
        // Without metadata, only the version.
        let plain = artifact(empty, "0.1.0", "x.wasm").unwrap();
        assert_eq!(plain.manifest.annotations.unwrap().len(), 1);
    }

    #[test]
    fn refuses_other_artifacts_saying_what_they_are() {
        let r = Reference::parse("127.0.0.1:5000/acme/img:1.0.0").unwrap();
        let d = format!("sha256:{}", "ab".repeat(32));
        let image = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{d}","size":2}},"layers":[]}}"#
        );
        let e = check(&r, image.as_bytes()).unwrap_err().to_string();
        assert!(
            e.contains("its config is of type \"application/vnd.oci.image.config.v1+json\""),
            "{e}"
        );
        let two = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{WASM_MANIFEST_CONFIG_MEDIA_TYPE}","digest":"{d}","size":2}},"layers":[{{"mediaType":"application/wasm","digest":"{d}","size":1}},{{"mediaType":"text/plain","digest":"{d}","size":1}}]}}"#
        );
        let e = check(&r, two.as_bytes()).unwrap_err().to_string();
        assert!(
            e.contains("it has 2 layer(s) of type(s) [\"application/wasm\", \"text/plain\"]"),
            "{e}"
        );
        // The same manifest written as a JSON array: serde would read it, a registry would not.
        let one = format!(
            r#"[2,null,"{WASM_MANIFEST_CONFIG_MEDIA_TYPE}",{{"mediaType":"{WASM_MANIFEST_CONFIG_MEDIA_TYPE}","digest":"{d}","size":2}},[{{"mediaType":"application/wasm","digest":"{d}","size":1}}]]"#
        );
        let e = format!("{:#}", check(&r, one.as_bytes()).unwrap_err());
        assert!(
            e.contains("is not an OCI image manifest: a JSON object was expected"),
            "{e}"
        );
    }
}
