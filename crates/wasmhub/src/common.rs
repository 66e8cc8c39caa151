//! Flags shared by several verbs: grants and the compile cache.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use wasmhub_app::App;
use wasmhub_app::DirMode;
use wasmhub_caps::{
    DirGrant, EnvGrant, GrantSite, Granted, Grants, Origin, OutboundRule, SocketRule,
};
use wasmhub_core::{
    CompileCache, EngineKind, IncrementalStore, Loaded, Metering, load_component, new_engine_with,
};
use wasmtime::Engine;

/// What the component may touch; nothing unless granted here.
#[derive(Args, Debug, Default, Clone)]
pub struct GrantFlags {
    /// Grant an environment variable: NAME inherits the host's value, NAME=VALUE sets one. Default: none.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<EnvGrant>,
    /// Grant a host directory at a guest path, read-write unless `:ro`. Default: no files.
    #[arg(long = "dir", value_name = "HOST::GUEST[:ro]")]
    pub dirs: Vec<DirGrant>,
    /// Allow outgoing HTTP (serve) to scheme://host[:port]; `*.` wildcards, `*` port. Default: none.
    #[arg(long = "outbound", value_name = "RULE")]
    pub outbound: Vec<OutboundRule>,
    /// Allow connecting (TCP) or sending (UDP) to tcp|udp://HOST:PORT (IP, network/len, DNS name, `*`). Default: none.
    #[arg(long = "connect", value_name = "RULE")]
    pub connect: Vec<SocketRule>,
    /// Allow binding and listening on tcp|udp://HOST:PORT. Default: none.
    #[arg(long = "bind", value_name = "RULE")]
    pub bind: Vec<SocketRule>,
    /// Deny stdio, clocks or random (on by default): a component importing them is refused.
    #[arg(long = "deny", value_name = "CAPABILITY")]
    pub deny: Vec<Deniable>,
    /// Grant the key-value store LABEL (wasi:keyvalue), kept per app. Default: none.
    #[arg(long = "keyvalue", value_name = "LABEL")]
    pub keyvalue: Vec<wasmhub_app::StoreLabel>,
    /// Give the configuration value KEY=VALUE (wasi:config). Default: none.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_config)]
    pub config: Vec<(String, wasmhub_app::ConfigValue)>,
    /// Give a secret configuration value, read from env:NAME or file:PATH (never printed).
    #[arg(long = "config-secret", value_name = "KEY=env:NAME|file:PATH", value_parser = parse_secret)]
    pub config_secret: Vec<(String, wasmhub_app::ConfigValue)>,
}

fn split_key(s: &str) -> Result<(&str, &str), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k, v)),
        _ => Err(format!(
            "invalid config `{s}`: expected KEY=VALUE with a non-empty KEY"
        )),
    }
}

fn parse_config(s: &str) -> Result<(String, wasmhub_app::ConfigValue), String> {
    let (k, v) = split_key(s)?;
    let value = wasmhub_app::ConfigValue {
        source: wasmhub_app::ConfigSource::Value(v.to_owned()),
        secret: false,
    };
    Ok((k.to_owned(), value))
}

fn parse_secret(s: &str) -> Result<(String, wasmhub_app::ConfigValue), String> {
    let (k, v) = split_key(s)?;
    Ok((k.to_owned(), wasmhub_app::ConfigValue::secret_flag(v)?))
}

/// Where key-value data is kept.
#[derive(Args, Debug, Default)]
pub struct StateFlags {
    /// Directory of the apps' key-value stores (one file per app). Default: $WASMHUB_DATA_DIR, else $XDG_DATA_HOME/wasmhub, else ~/.local/share/wasmhub.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Key-value backend: `embedded` (durable, one file per app), `memory` (lost at exit)
    /// or `nats` (JetStream KV on --cluster, shared by every host). Default: embedded, or
    /// nats when --cluster is given.
    #[arg(long = "kv", value_name = "BACKEND", global = true)]
    pub kv: Option<KvBackendFlag>,
    /// The NATS servers holding the stores with --kv nats: nats://HOST:PORT, several
    /// comma-separated.
    #[arg(long = "cluster", value_name = "URL", global = true)]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub nats: crate::nats::NatsAccessFlags,
}

/// The `--kv` backends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum KvBackendFlag {
    /// Durable: one file per app in the data directory.
    #[default]
    Embedded,
    /// In memory: lost at exit.
    Memory,
    /// NATS JetStream KV on the cluster named by --cluster, shared by every host.
    Nats,
}

impl StateFlags {
    /// Makes these flags the process's key-value backend.
    pub fn apply(&self) -> Result<()> {
        wasmhub_state::choose_backend(self.choice()?);
        Ok(())
    }

    /// The backend these flags select.
    pub fn choice(&self) -> Result<wasmhub_state::BackendChoice> {
        use wasmhub_state::BackendChoice;
        let kv = self.kv.unwrap_or(if self.cluster.is_some() {
            KvBackendFlag::Nats
        } else {
            KvBackendFlag::Embedded
        });
        Ok(match (kv, &self.cluster) {
            (KvBackendFlag::Nats, Some(url)) => BackendChoice::External(std::sync::Arc::new(
                crate::nats::NatsOpener::new(url, &self.nats.access()),
            )),
            (KvBackendFlag::Nats, None) => anyhow::bail!(
                "--kv nats needs --cluster nats://HOST:PORT: the NATS servers that hold the stores"
            ),
            (_, Some(_)) => anyhow::bail!(
                "--cluster names the NATS servers of --kv nats, but --kv is {}; drop one of them",
                if kv == KvBackendFlag::Memory {
                    "memory"
                } else {
                    "embedded"
                }
            ),
            (KvBackendFlag::Memory, None) => BackendChoice::Memory,
            (KvBackendFlag::Embedded, None) => BackendChoice::Embedded(self.data_dir.clone()),
        })
    }
}

/// A capability that is on unless denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Deniable {
    /// stdin, stdout and stderr.
    Stdio,
    /// Wall and monotonic clocks.
    Clocks,
    /// Random numbers.
    Random,
}

impl GrantFlags {
    /// Whether any grant was given (they apply to a lone component only).
    pub fn is_empty(&self) -> bool {
        self.env.is_empty()
            && self.dirs.is_empty()
            && self.outbound.is_empty()
            && self.connect.is_empty()
            && self.bind.is_empty()
            && self.deny.is_empty()
            && self.keyvalue.is_empty()
            && self.config.is_empty()
            && self.config_secret.is_empty()
    }

    /// The grants, with `args` as the guest's argv and the host's stdio.
    pub fn grants(self, args: Vec<String>) -> Grants {
        fn flagged<T: std::fmt::Display>(flag: &str, v: Vec<T>) -> Vec<Granted<T>> {
            v.into_iter()
                .map(|value| {
                    let origin = Origin::Flag(format!("{flag} {value}"));
                    Granted::new(value, origin)
                })
                .collect()
        }
        let mut g = Grants::none(GrantSite::Flags);
        g.env = self
            .env
            .into_iter()
            .map(|e| {
                let typed = match &e {
                    EnvGrant::Value { name, value } => format!("--env {name}={value}"),
                    EnvGrant::Inherit { name } => format!("--env {name}"),
                };
                let origin = Origin::Flag(typed);
                Granted::new(e, origin)
            })
            .collect();
        g.dirs = self
            .dirs
            .into_iter()
            .map(|d| {
                let mode = if d.mode == DirMode::ReadOnly {
                    ":ro"
                } else {
                    ""
                };
                let typed = format!("--dir {}::{}{mode}", d.host.display(), d.guest);
                let origin = Origin::Flag(typed);
                Granted::new(d, origin)
            })
            .collect();
        g.outbound = flagged("--outbound", self.outbound);
        g.connect = flagged("--connect", self.connect);
        g.bind = flagged("--bind", self.bind);
        for d in self.deny {
            let (slot, name) = match d {
                Deniable::Stdio => (&mut g.stdio, "stdio"),
                Deniable::Clocks => (&mut g.clocks, "clocks"),
                Deniable::Random => (&mut g.random, "random"),
            };
            *slot = Granted::new(false, Origin::Flag(format!("--deny {name}")));
        }
        g.keyvalue = self
            .keyvalue
            .into_iter()
            .map(|label| {
                let origin = Origin::Flag(format!("--keyvalue {label}"));
                let store = wasmhub_app::StoreGrant {
                    label,
                    limits: wasmhub_app::StoreLimits::default(),
                };
                Granted::new(store, origin)
            })
            .collect();
        let secret = self
            .config_secret
            .into_iter()
            .map(|c| ("--config-secret", c));
        g.config = self
            .config
            .into_iter()
            .map(|c| ("--config", c))
            .chain(secret)
            .map(|(flag, (key, value))| {
                let origin = Origin::Flag(format!("{flag} {key}=..."));
                Granted::new(wasmhub_app::ConfigGrant { key, value }, origin)
            })
            .collect();
        g.args = args;
        g.inherit_stdio = true;
        g
    }
}

/// Whether ungranted capabilities refuse the component before it runs.
#[derive(Args, Debug, Default, Clone, Copy)]
pub struct StrictFlag {
    /// Refuse, before running, a component that imports files, sockets or outbound HTTP it
    /// is not granted (as `strict = true` under [app] does). Default: it runs, and each such
    /// call is denied with a warning naming the grant to add.
    #[arg(long)]
    pub strict: bool,
}

impl StrictFlag {
    /// Makes every component of `app` strict when the flag is given.
    pub fn apply(&self, app: &mut App) {
        if self.strict {
            for c in &mut app.components {
                c.grants.strict = Granted::new(true, Origin::Flag("--strict".into()));
            }
        }
    }

    /// Makes `grants` strict when the flag is given.
    pub fn apply_to(&self, grants: &mut Grants) {
        if self.strict {
            grants.strict = Granted::new(true, Origin::Flag("--strict".into()));
        }
    }
}

/// `--isolation`: where every component runs, over the manifest's `isolation`.
#[derive(Args, Debug, Default, Clone, Copy)]
pub struct IsolationFlag {
    /// Run every component in-process (beside the server) or in a worker process of its
    /// tenant ("process"). Default: each component's `isolation`, else "in-process".
    #[arg(long = "isolation", value_name = "MODE")]
    pub isolation: Option<wasmhub_app::Isolation>,
}

impl IsolationFlag {
    /// Sets every component's isolation when the flag is given.
    pub fn apply(&self, app: &mut App) {
        if let Some(isolation) = self.isolation {
            app.set_isolation(isolation);
        }
    }
}

/// Which WASI a lone component runs with.
#[derive(Args, Debug, Default, Clone, Copy)]
pub struct WasiFlag {
    /// WASI release: 0.2, or 0.3 (native async: `async func`, `stream`, `future`), which is opt-in.
    #[arg(long = "wasi", value_name = "VERSION", default_value = "0.2")]
    pub wasi: wasmhub_app::WasiVersion,
}

impl WasiFlag {
    /// Whether WASI 0.3 was asked for.
    pub fn is_wasi3(&self) -> bool {
        self.wasi == wasmhub_app::WasiVersion::P3
    }
}

/// Where compiled code is cached.
#[derive(Args, Debug, Default)]
pub struct CacheFlags {
    /// Compile cache directory. Default: $WASMHUB_CACHE_DIR, else $XDG_CACHE_HOME/wasmhub, else ~/.cache/wasmhub.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile every time instead of using the cache.
    #[arg(long)]
    pub no_cache: bool,
}

impl CacheFlags {
    /// The cache these flags select, if any.
    pub fn cache(&self) -> Option<CompileCache> {
        if self.no_cache {
            return None;
        }
        self.cache_dir
            .clone()
            .or_else(CompileCache::default_dir)
            .map(CompileCache::new)
    }

    /// The engine for `kind`, reusing unchanged function bodies from the cache's
    /// per-function store when a cache is in use.
    pub fn engine(&self, kind: EngineKind) -> Result<Engine> {
        let incremental = self.cache().as_ref().and_then(IncrementalStore::open);
        new_engine_with(kind, incremental)
    }

    /// Builds the one-shot engine metering what `metering` asks and loads `path` through the cache.
    pub fn load(&self, path: &Path, metering: Metering) -> Result<(Engine, Loaded)> {
        let engine = self.engine(EngineKind::OneShot(metering))?;
        let loaded = load_component(&engine, self.cache().as_ref(), path)?;
        Ok((engine, loaded))
    }
}

/// An app from a manifest (`wasmhub.toml` or Spin's `spin.toml`), or from one component and
/// the CLI's grants.
pub fn load_app(target: &Path, grants: GrantFlags) -> Result<App> {
    load_app_in(&mut wasmhub_app::Texts::from_disk(), target, grants)
}

/// [`load_app`], its manifest texts from `texts` (kept in `App::texts`). Given texts (a
/// worker's) are the app the server resolved: its `oci://` sources are not pulled again.
pub fn load_app_in(
    texts: &mut wasmhub_app::Texts,
    target: &Path,
    grants: GrantFlags,
) -> Result<App> {
    let mut app = read_app(texts, target, grants)?;
    app.texts = texts.files().clone();
    Ok(app)
}

fn read_app(texts: &mut wasmhub_app::Texts, target: &Path, grants: GrantFlags) -> Result<App> {
    if target.extension().is_some_and(|e| e == "toml") {
        if !grants.is_empty() {
            anyhow::bail!(
                "grant flags (--env, --dir, --outbound, --connect, --bind, --deny, --keyvalue, \
                 --config, --config-secret) apply to a lone component; grant a manifest's components under [component.NAME.grant] in {}",
                target.display()
            );
        }
        let mut app = if wasmhub_spin::is_spin_manifest_in(texts, target) {
            wasmhub_spin::load_in(texts, target)?
        } else if wasmhub_spin::names_spin_manifest_in(texts, target) {
            wasmhub_spin::load_with_settings_in(texts, target)?
        } else {
            App::from_manifest_in(texts, target, wasmhub_manifest::Sources::MustExist)?
        };
        if !texts.is_given() {
            crate::oci::resolve_app(&mut app)?;
        }
        return Ok(app);
    }
    let mut grants = grants.grants(Vec::new());
    grants.inherit_stdio = false;
    let source = if texts.is_given() {
        target.to_owned()
    } else {
        crate::oci::local(target)?
    };
    let mut app = App::single(&source, grants);
    if let Some(name) = crate::oci::name(target) {
        app.name.clone_from(&name);
        app.components[0].grants.app.clone_from(&name);
        app.components[0].name = name;
    }
    Ok(app)
}

/// Prints a warning for each grant the component cannot use (it does not import it).
pub fn warn_unused(engine: &Engine, component: &wasmtime::component::Component, grants: &Grants) {
    let ty = component.component_type();
    let audit = wasmhub_caps::Audit::new(ty.imports(engine).map(|(n, _)| n), grants);
    for unused in audit.unused {
        eprintln!("warning: {unused}");
    }
}

/// A single-threaded runtime: one-shot verbs run one instance.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}
