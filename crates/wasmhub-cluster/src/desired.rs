//! The desired state of one app: what every host of it should serve. Written by `deploy`
//! as a new revision in the [`BUCKET`] KV bucket (key [`key`]), read by hosts.
//!
//! A document (JSON) holds the app's name, its revision (1, 2, ...), the manifest with each
//! component's `source` replaced by `blobs/SHA256.wasm`, and each component's sha256: the
//! code is pinned, and a host fetches each blob from the Object Store by that digest and
//! refuses bytes that do not hash to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The KV bucket holding every app's desired state.
pub const BUCKET: &str = "wasmhub_desired";

/// The folder, next to a host's copy of the manifest, holding the blobs.
pub const BLOB_DIR: &str = "blobs";

/// This document's format; a host refuses others.
const FORMAT: u32 = 1;

/// What every host of one app should serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    /// The document's format.
    pub format: u32,
    /// The app's name.
    pub app: String,
    /// The revision: 1 for the first deploy, one more for each later one.
    pub revision: u64,
    /// The manifest (wasmhub.toml), its sources pointing at `blobs/SHA256.wasm`.
    pub manifest: String,
    /// Each component's code by its name: the sha256 (lower-case hex) of its bytes.
    pub components: BTreeMap<String, String>,
}

/// Why a document could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    /// The manifest is not a TOML table with `[component.NAME]` tables.
    #[error("the manifest cannot be rewritten to pin its components: {0}")]
    Manifest(String),
    /// A stored document is not one this host understands.
    #[error("the desired state of app {app:?} cannot be read; deploy it again with this wasmhub")]
    Unreadable {
        /// The app.
        app: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A stored document has another format.
    #[error(
        "the desired state of app {app:?} has format {format}, this host reads format {FORMAT}; upgrade the host"
    )]
    Format {
        /// The app.
        app: String,
        /// Its format.
        format: u32,
    },
}

/// The KV key of `app`'s desired state (hex: any app name becomes a valid key).
pub fn key(app: &str) -> String {
    format!("app_{}", hex::encode(app))
}

/// The app whose key is `key`, if it is one of [`key`]'s.
pub fn app_of(key: &str) -> Option<String> {
    String::from_utf8(hex::decode(key.strip_prefix("app_")?).ok()?).ok()
}

/// Where the manifest of a document points component code with digest `sha256`.
pub fn blob_source(sha256: &str) -> String {
    format!("{BLOB_DIR}/{sha256}.wasm")
}

impl Desired {
    /// Revision `revision` of `app` from `manifest` (its text), each component pinned to
    /// the sha256 in `components`.
    pub fn new(
        app: &str,
        revision: u64,
        manifest: &str,
        components: BTreeMap<String, String>,
    ) -> Result<Self, DesiredError> {
        let mut doc: toml::Table =
            toml::from_str(manifest).map_err(|e| DesiredError::Manifest(e.to_string()))?;
        let Some(toml::Value::Table(table)) = doc.get_mut("component") else {
            return Err(DesiredError::Manifest("it has no [component.NAME]".into()));
        };
        for (name, sha) in &components {
            let Some(toml::Value::Table(c)) = table.get_mut(name) else {
                return Err(DesiredError::Manifest(format!(
                    "it has no [component.{name}]"
                )));
            };
            c.insert("source".into(), toml::Value::String(blob_source(sha)));
        }
        Ok(Self {
            format: FORMAT,
            app: app.to_owned(),
            revision,
            manifest: toml::to_string(&doc).map_err(|e| DesiredError::Manifest(e.to_string()))?,
            components,
        })
    }

    /// The document as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a desired state serialises")
    }

    /// A stored document of `app`.
    pub fn from_bytes(app: &str, bytes: &[u8]) -> Result<Self, DesiredError> {
        let d: Self = serde_json::from_slice(bytes).map_err(|source| DesiredError::Unreadable {
            app: app.to_owned(),
            source,
        })?;
        if d.format != FORMAT {
            return Err(DesiredError::Format {
                app: app.to_owned(),
                format: d.format,
            });
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
[app]
name = "shop"

[component.front]
source = "../target/front.wasm"
route = "/..."

[component.front.grant]
env = { VERSION = "v2" }
"#;

    #[test]
    fn a_document_pins_each_source_and_round_trips() {
        let pins = BTreeMap::from([("front".to_owned(), "ab".repeat(32))]);
        let d = Desired::new("shop", 2, MANIFEST, pins.clone()).unwrap();
        let again: toml::Table = toml::from_str(&d.manifest).unwrap();
        let front = &again["component"]["front"];
        assert_eq!(
            front["source"].as_str(),
            Some(format!("blobs/{}.wasm", "ab".repeat(32)).as_str())
        );
        assert_eq!(front["route"].as_str(), Some("/..."));
        assert_eq!(front["grant"]["env"]["VERSION"].as_str(), Some("v2"));
        assert_eq!(Desired::from_bytes("shop", &d.to_bytes()).unwrap(), d);
        assert_eq!(d.components, pins);
    }

    #[test]
    fn an_unknown_component_or_format_is_refused() {
        let pins = BTreeMap::from([("back".to_owned(), "00".repeat(32))]);
        let e = Desired::new("shop", 1, MANIFEST, pins).unwrap_err();
        assert!(e.to_string().contains("no [component.back]"), "{e}");
        let mut d = Desired::new("shop", 1, MANIFEST, BTreeMap::new()).unwrap();
        d.format = 9;
        let e = Desired::from_bytes("shop", &d.to_bytes()).unwrap_err();
        assert!(e.to_string().contains("format 9"), "{e}");
    }
}
