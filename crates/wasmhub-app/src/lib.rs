//! The resolved form of an app: components with absolute paths, routes and grants.
//!
//! Both front doors (a manifest, or a component and CLI flags) produce an [`App`]; the
//! runtime reads nothing else.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};

mod budget;
mod grants;
mod isolation;
mod state;
mod texts;
mod variables;

pub use budget::{Budget, Profile};
pub use isolation::IsolationError;
pub use state::{ConfigGrant, ConfigSource, ConfigValue, StoreGrant, StoreLabel, StoreLimits};
pub use texts::Texts;
pub use variables::spin_variable_name_error;

pub use grants::{
    DEFAULT_LENIENT, DEFAULT_ON, GrantSite, Granted, Grants, Origin, describe_dir, describe_env,
};
pub use wasmhub_manifest::{
    ComponentName, DirGrant, DirMode, EnvGrant, InterfaceName, Isolation, OutboundRule, Reuse,
    Route, SocketHost, SocketRule, Transport, WasiVersion, human_bytes,
};

/// One component of an app.
#[derive(Debug, Clone)]
pub struct AppComponent {
    /// Its name (the file stem for a lone component).
    pub name: String,
    /// Absolute or working-directory-relative path of the `.wasm` (an `oci://` reference
    /// until the CLI resolves it to the content store).
    pub source: PathBuf,
    /// Where `serve` routes requests to it, if anywhere.
    pub route: Option<Route>,
    /// What it may touch.
    pub grants: Grants,
    /// How much it may use.
    pub budget: Budget,
    /// Where it was declared (`wasmhub.toml:12`), for error messages.
    pub origin: Option<String>,
    /// Imports served by other components of the app, in process.
    pub links: Vec<Link>,
    /// The WASI it runs with (0.3 is opt-in).
    pub wasi: WasiVersion,
    /// Where its instances run: in the server's process, or in its tenant's workers.
    pub isolation: Isolation,
    /// The tenant whose worker processes it shares (its own name unless `tenant` says).
    pub tenant: String,
    /// How many requests one of its instances may serve (1: a fresh instance per request).
    pub reuse: Reuse,
}

/// A runtime link: the component's import `import` is served by component `target`'s export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The imported interface as written (`acme:pricing/calc`, version optional).
    pub import: InterfaceName,
    /// The component whose export serves it.
    pub target: String,
    /// Where the link was written (`wasmhub.toml:9`).
    pub at: String,
}

/// An app: named components, in manifest order.
#[derive(Debug, Clone)]
pub struct App {
    /// The app's name.
    pub name: String,
    /// Its components.
    pub components: Vec<AppComponent>,
    /// What its served requests look like (Spin's headers for an app from `spin.toml`).
    pub request_shape: RequestShape,
    /// Components that cannot run yet (`wasmhub dev`: never built), by name, with why:
    /// their routes answer 503 with the reason while the others serve.
    pub unavailable: std::collections::BTreeMap<String, String>,
    /// The manifest files it was read from, each with the text parsed (none for a lone
    /// component): what a tenant's worker reads this app from.
    pub texts: std::collections::BTreeMap<PathBuf, String>,
}

/// What a served request carries beyond the client's own headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RequestShape {
    /// Nothing added.
    #[default]
    Plain,
    /// Spin's `spin-*` headers (full URL, path info, routes, client address, path matches).
    Spin,
}

impl App {
    /// A lone component served on every path.
    pub fn single(source: &Path, mut grants: Grants) -> Self {
        let name = Self::single_name(source);
        if grants.app.is_empty() {
            grants.app = name.clone();
        }
        Self {
            name: name.clone(),
            components: vec![AppComponent {
                tenant: name.clone(),
                isolation: Isolation::default(),
                name,
                source: source.to_owned(),
                route: Some(Route::everything()),
                grants,
                budget: Budget::default(),
                origin: None,
                links: Vec::new(),
                wasi: WasiVersion::default(),
                reuse: Reuse::default(),
            }],
            request_shape: RequestShape::Plain,
            unavailable: Default::default(),
            texts: Default::default(),
        }
    }

    /// The app name of a lone component: its file stem (its stores are scoped to it).
    pub fn single_name(source: &Path) -> String {
        source
            .file_stem()
            .map_or_else(|| "component".into(), |s| s.to_string_lossy().into_owned())
    }

    /// Loads and validates a manifest, resolving paths against its directory.
    pub fn from_manifest(path: &Path) -> Result<Self, wasmhub_manifest::ManifestError> {
        Self::from_manifest_with(path, wasmhub_manifest::Sources::MustExist)
    }

    /// [`App::from_manifest`], with `sources` deciding whether a source a build will write
    /// may be missing.
    pub fn from_manifest_with(
        path: &Path,
        sources: wasmhub_manifest::Sources,
    ) -> Result<Self, wasmhub_manifest::ManifestError> {
        Self::from_manifest_in(&mut Texts::from_disk(), path, sources)
    }

    /// [`App::from_manifest_with`], its text from `texts`.
    pub fn from_manifest_in(
        texts: &mut Texts,
        path: &Path,
        sources: wasmhub_manifest::Sources,
    ) -> Result<Self, wasmhub_manifest::ManifestError> {
        let text = texts
            .read(path)
            .map_err(|source| wasmhub_manifest::ManifestError::Read {
                path: path.to_owned(),
                source,
            })?;
        let m = wasmhub_manifest::parse_with(&text, path, sources)?;
        let components = m
            .in_file_order()
            .into_iter()
            .map(|(name, c)| {
                let at = |offset: usize| Origin::Manifest(m.location(offset));
                let origin = m.location(c.source.span().start);
                let g = &c.grant;
                let spanned = |v: &[toml::Spanned<SocketRule>]| {
                    v.iter()
                        .map(|r| Granted::new(r.get_ref().clone(), at(r.span().start)))
                        .collect()
                };
                let flag = |f: &Option<toml::Spanned<bool>>, default: &Granted<bool>| {
                    f.as_ref().map_or_else(
                        || default.clone(),
                        |v| Granted::new(*v.get_ref(), at(v.span().start)),
                    )
                };
                let none = Grants::none(GrantSite::Manifest {
                    component: name.to_string(),
                    at: origin.clone(),
                });
                let budget = Budget::from_section(&c.budget);
                let mut grants = Grants {
                    env: g
                        .env
                        .iter()
                        .map(|e| Granted::new(e.get_ref().clone(), at(e.span().start)))
                        .collect(),
                    dirs: g
                        .files
                        .iter()
                        .map(|f| {
                            let dir = DirGrant {
                                host: m.base_dir.join(f.host.get_ref()),
                                guest: f.guest.clone(),
                                mode: f.mode,
                            };
                            Granted::new(dir, at(f.host.span().start))
                        })
                        .collect(),
                    outbound: g
                        .outbound
                        .iter()
                        .map(|o| Granted::new(o.get_ref().clone(), at(o.span().start)))
                        .collect(),
                    connect: spanned(&g.sockets.connect),
                    bind: spanned(&g.sockets.bind),
                    stdio: flag(&g.stdio, &none.stdio),
                    clocks: flag(&g.clocks, &none.clocks),
                    random: flag(&g.random, &none.random),
                    strict: flag(&c.strict, &flag(&m.app.strict, &none.strict)),
                    app: m.app.name.to_string(),
                    keyvalue: g
                        .keyvalue
                        .iter()
                        .map(|l| {
                            let label = l.get_ref().clone();
                            let limits = store_limits(&m, &label);
                            Granted::new(StoreGrant { label, limits }, at(l.span().start))
                        })
                        .collect(),
                    config: g
                        .config
                        .iter()
                        .map(|(k, v)| {
                            let grant = ConfigGrant {
                                key: k.get_ref().clone(),
                                value: v.get_ref().clone(),
                            };
                            Granted::new(grant, at(k.span().start))
                        })
                        .collect(),
                    args: vec![name.to_string()],
                    ..none
                };
                if let Some(p) = &c.budget.profile {
                    budget.restrict(&mut grants, &m.location(p.span().start));
                }
                AppComponent {
                    name: name.to_string(),
                    // An `oci://` reference stays as written until the CLI pulls it.
                    source: if c.source.get_ref().starts_with("oci://") {
                        PathBuf::from(c.source.get_ref())
                    } else {
                        m.base_dir.join(c.source.get_ref())
                    },
                    route: c.route.as_ref().map(|r| r.get_ref().clone()),
                    grants,
                    budget,
                    origin: Some(origin),
                    links: c
                        .link
                        .iter()
                        .map(|(import, target)| Link {
                            import: import.get_ref().clone(),
                            target: target.get_ref().to_string(),
                            at: m.location(import.span().start),
                        })
                        .collect(),
                    wasi: c.wasi.as_ref().map(|w| *w.get_ref()).unwrap_or_default(),
                    isolation: c
                        .isolation
                        .as_ref()
                        .or(m.app.isolation.as_ref())
                        .map(|i| *i.get_ref())
                        .unwrap_or_default(),
                    tenant: c
                        .tenant
                        .as_ref()
                        .map_or_else(|| name.to_string(), |t| t.get_ref().to_string()),
                    reuse: c.reuse.as_ref().map(|r| *r.get_ref()).unwrap_or_default(),
                }
            })
            .collect();
        let mut components: Vec<AppComponent> = components;
        let defaulted: Vec<bool> = m
            .in_file_order()
            .iter()
            .map(|(_, c)| c.tenant.is_none())
            .collect();
        isolation::share_linked_tenants(&mut components, &defaulted);
        Ok(Self {
            name: m.app.name.to_string(),
            components,
            request_shape: RequestShape::Plain,
            unavailable: Default::default(),
            texts: Default::default(),
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

/// The limits `[keyvalue.LABEL]` gives store `label`, if the manifest has that table.
fn store_limits(m: &wasmhub_manifest::Manifest, label: &StoreLabel) -> StoreLimits {
    m.keyvalue
        .iter()
        .find(|(l, _)| l.get_ref() == label)
        .map(|(_, s)| StoreLimits::from_section(s.get_ref()))
        .unwrap_or_default()
}
