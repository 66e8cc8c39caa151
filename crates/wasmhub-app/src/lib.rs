//! The resolved form of an app: components with absolute paths, routes and grants.
//!
//! Both front doors (a manifest, or a component and CLI flags) produce an [`App`]; the
//! runtime reads nothing else.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};

pub use wasmhub_manifest::{ComponentName, DirGrant, DirMode, EnvGrant, OutboundRule, Route};

/// Everything a component may touch beyond its own memory; empty means nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Environment variables the guest sees.
    pub env: Vec<EnvGrant>,
    /// Host directories the guest sees, at guest paths.
    pub dirs: Vec<DirGrant>,
    /// Allowed outgoing HTTP destinations.
    pub outbound: Vec<OutboundRule>,
    /// Arguments the guest sees (`argv[0]` first).
    pub args: Vec<String>,
    /// Whether the guest's stdin, stdout and stderr are the host process's.
    pub inherit_stdio: bool,
}

/// One component of an app.
#[derive(Debug, Clone)]
pub struct AppComponent {
    /// Its name (the file stem for a lone component).
    pub name: String,
    /// Absolute or working-directory-relative path of the `.wasm`.
    pub source: PathBuf,
    /// Where `serve` routes requests to it, if anywhere.
    pub route: Option<Route>,
    /// What it may touch.
    pub grants: Grants,
    /// Where it was declared (`wasmhub.toml:12`), for error messages.
    pub origin: Option<String>,
}

/// An app: named components, in manifest order.
#[derive(Debug, Clone)]
pub struct App {
    /// The app's name.
    pub name: String,
    /// Its components.
    pub components: Vec<AppComponent>,
}

impl App {
    /// A lone component served on every path.
    pub fn single(source: &Path, grants: Grants) -> Self {
        let name = source
            .file_stem()
            .map_or_else(|| "component".into(), |s| s.to_string_lossy().into_owned());
        Self {
            name: name.clone(),
            components: vec![AppComponent {
                name,
                source: source.to_owned(),
                route: Some(Route::everything()),
                grants,
                origin: None,
            }],
        }
    }

    /// Loads and validates a manifest, resolving paths against its directory.
    pub fn from_manifest(path: &Path) -> Result<Self, wasmhub_manifest::ManifestError> {
        let m = wasmhub_manifest::load(path)?;
        let components = m
            .in_file_order()
            .into_iter()
            .map(|(name, c)| AppComponent {
                name: name.to_string(),
                source: m.base_dir.join(c.source.get_ref()),
                route: c.route.as_ref().map(|r| r.get_ref().clone()),
                grants: Grants {
                    env: c.grant.env.clone(),
                    dirs: c
                        .grant
                        .files
                        .iter()
                        .map(|f| DirGrant {
                            host: m.base_dir.join(f.host.get_ref()),
                            guest: f.guest.clone(),
                            mode: f.mode,
                        })
                        .collect(),
                    outbound: c.grant.outbound.clone(),
                    args: vec![name.to_string()],
                    inherit_stdio: false,
                },
                origin: Some(m.location(c.source.span().start)),
            })
            .collect();
        Ok(Self {
            name: m.app.name.to_string(),
            components,
        })
    }

    /// The component serving `path`: the longest matching route, exact before prefix.
    pub fn route(&self, path: &str) -> Option<usize> {
        self.components
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.route.as_ref().filter(|r| r.matches(path)).map(|r| (i, r)))
            .max_by_key(|(_, r)| r.specificity())
            .map(|(i, _)| i)
    }
}
