//! `spin.toml`, Spin's manifest (version 2, HTTP apps), as wasmhub's second front door: read,
//! checked key by key, and resolved into the same [`App`] a `wasmhub.toml` gives, so grants,
//! budgets, audit, metrics and reload behave the same.
//!
//! What maps: `[application]`, `[variables]` (defaults, required, secret; values from
//! `SPIN_VARIABLE_NAME` like Spin's environment provider), `[[trigger.http]]` routes
//! (`/...` wildcards, `:name` segments, private endpoints), and per component `source`,
//! `files`, `environment`, `allowed_outbound_hosts` (with `{{ variable }}` templates),
//! `key_value_stores`, `variables` and `dependencies` on other components of the app.
//! Everything else is refused by name and line as not supported yet.

#![deny(missing_docs)]

mod component;
mod keys;
mod schema;
mod settings;
mod template;
mod variables;

use std::path::Path;

pub use settings::{
    load_with_settings, load_with_settings_in, names_spin_manifest, names_spin_manifest_in,
};

use wasmhub_app::{App, Texts};
use wasmhub_manifest::ManifestError;

/// Whether `path` is a Spin manifest: named `spin.toml`, or a TOML file declaring
/// `spin_manifest_version`.
pub fn is_spin_manifest(path: &Path) -> bool {
    is_spin_manifest_in(&mut Texts::from_disk(), path)
}

/// [`is_spin_manifest`], its text from `texts`.
pub fn is_spin_manifest_in(texts: &mut Texts, path: &Path) -> bool {
    if path.file_name().is_some_and(|n| n == "spin.toml") {
        return true;
    }
    path.extension().is_some_and(|e| e == "toml")
        && texts.read(path).is_ok_and(|t| {
            t.lines()
                .any(|l| l.trim_start().starts_with("spin_manifest_version"))
        })
}

/// Reads, checks and resolves the `spin.toml` at `path`.
pub fn load(path: &Path) -> Result<App, ManifestError> {
    load_in(&mut Texts::from_disk(), path)
}

/// [`load`], its text from `texts`.
pub fn load_in(texts: &mut Texts, path: &Path) -> Result<App, ManifestError> {
    let text = texts.read(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

/// Checks and resolves `text`, the `spin.toml` read from `path`, as [`load`] does.
pub fn parse(text: &str, path: &Path) -> Result<App, ManifestError> {
    let at = Locator { path, text };
    let doc = toml::de::DeTable::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        at.invalid(offset, e.message().trim_end())
    })?;
    keys::check(&doc).map_err(|r| at.invalid(r.offset, &r.message))?;
    let m: schema::SpinManifest = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        at.invalid(offset, e.message().trim_end())
    })?;
    if m.spin_manifest_version.get_ref().as_integer() != Some(2) {
        return Err(at.invalid(
            m.spin_manifest_version.span().start,
            "spin_manifest_version must be 2: wasmhub reads Spin's version 2 manifests; \
             convert a version 1 manifest with `spin doctor` or by hand",
        ));
    }
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let vars = variables::resolve(&m, &at)?;
    let components = component::resolve_all(&m, &vars, base, &at)?;
    Ok(App {
        name: m.application.name.get_ref().clone(),
        components,
        request_shape: wasmhub_app::RequestShape::Spin,
        unavailable: Default::default(),
        texts: Default::default(),
    })
}

/// Turns byte offsets of the manifest into `spin.toml:LINE` and errors.
pub(crate) struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    /// `spin.toml:12`.
    pub fn location(&self, offset: usize) -> String {
        format!(
            "{}:{}",
            self.path.display(),
            wasmhub_manifest::line_of(self.text, offset)
        )
    }

    /// The error for `message` at `offset`.
    pub fn invalid(&self, offset: usize, message: &str) -> ManifestError {
        ManifestError::Invalid {
            path: self.path.to_owned(),
            line: wasmhub_manifest::line_of(self.text, offset),
            message: message.to_owned(),
        }
    }
}
