//! Flags shared by several verbs: grants and the compile cache.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use wasmhub_app::App;
use wasmhub_caps::{DirGrant, EnvGrant, Grants};
use wasmhub_core::{CompileCache, EngineKind, Loaded, load_component, new_engine};
use wasmtime::Engine;

/// What the component may touch; nothing unless granted here.
#[derive(Args, Debug, Default)]
pub struct GrantFlags {
    /// Grant an environment variable: NAME inherits the host's value, NAME=VALUE sets one. Default: none.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<EnvGrant>,
    /// Grant a host directory at a guest path, read-write unless `:ro`. Default: no files.
    #[arg(long = "dir", value_name = "HOST::GUEST[:ro]")]
    pub dirs: Vec<DirGrant>,
}

impl GrantFlags {
    /// The grants, with `args` as the guest's argv and the host's stdio.
    pub fn grants(self, args: Vec<String>) -> Grants {
        Grants {
            env: self.env,
            dirs: self.dirs,
            outbound: Vec::new(),
            args,
            inherit_stdio: true,
        }
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

    /// Builds the one-shot engine and loads `path` through the cache.
    pub fn load(&self, path: &Path) -> Result<(Engine, Loaded)> {
        let engine = new_engine(EngineKind::OneShot)?;
        let loaded = load_component(&engine, self.cache().as_ref(), path)?;
        Ok((engine, loaded))
    }
}

/// An app from a manifest (`.toml`), or from one component and the CLI's grants.
pub fn load_app(target: &Path, grants: GrantFlags) -> Result<App> {
    if target.extension().is_some_and(|e| e == "toml") {
        if grants.env.len() + grants.dirs.len() > 0 {
            anyhow::bail!(
                "--env and --dir apply to a lone component; grant a manifest's components \
                 under [component.NAME.grant] in {}",
                target.display()
            );
        }
        return Ok(App::from_manifest(target)?);
    }
    let mut grants = grants.grants(Vec::new());
    grants.inherit_stdio = false;
    Ok(App::single(target, grants))
}

/// A single-threaded runtime: one-shot verbs run one instance.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}
