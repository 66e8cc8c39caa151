//! Flags shared by several verbs: grants and the compile cache.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use wasmhub_app::App;
use wasmhub_app::DirMode;
use wasmhub_caps::{
    DirGrant, EnvGrant, GrantSite, Granted, Grants, Origin, OutboundRule, SocketRule,
};
use wasmhub_core::{CompileCache, EngineKind, Loaded, Metering, load_component, new_engine};
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

    /// Builds the one-shot engine metering what `metering` asks and loads `path` through the cache.
    pub fn load(&self, path: &Path, metering: Metering) -> Result<(Engine, Loaded)> {
        let engine = new_engine(EngineKind::OneShot(metering))?;
        let loaded = load_component(&engine, self.cache().as_ref(), path)?;
        Ok((engine, loaded))
    }
}

/// An app from a manifest (`.toml`), or from one component and the CLI's grants.
pub fn load_app(target: &Path, grants: GrantFlags) -> Result<App> {
    if target.extension().is_some_and(|e| e == "toml") {
        if !grants.is_empty() {
            anyhow::bail!(
                "grant flags (--env, --dir, --outbound, --connect, --bind, --deny) apply to a lone \
                 component; grant a manifest's components under [component.NAME.grant] in {}",
                target.display()
            );
        }
        let mut app = App::from_manifest(target)?;
        crate::oci::resolve_app(&mut app)?;
        return Ok(app);
    }
    let mut grants = grants.grants(Vec::new());
    grants.inherit_stdio = false;
    let mut app = App::single(&crate::oci::local(target)?, grants);
    if let Some(name) = crate::oci::name(target) {
        app.name.clone_from(&name);
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
