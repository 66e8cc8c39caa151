//! `wasmhub build`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use wasmhub_manifest::Sources;

use crate::common::{CacheFlags, GrantFlags, load_app};

/// Build an app's components from their [component.NAME.build], then check the app.
///
/// Builds the named components (all that have a build section if none is named), the
/// components they link to first. Each output line starts with the component's name; the
/// first failure stops the build. A build's `setup` step (installing its tools) runs before
/// its first build and again only when one of its `inputs` changes. Then the app is checked
/// as `wasmhub check` does.
#[derive(Parser)]
pub struct BuildCommand {
    #[command(flatten)]
    cache: CacheFlags,
    /// Components to build, then optionally the manifest (default: ./wasmhub.toml).
    #[arg(value_name = "COMPONENT|wasmhub.toml")]
    args: Vec<String>,
}

impl BuildCommand {
    /// Builds, then checks; fails naming the first component whose build failed.
    pub fn execute(self) -> Result<i32> {
        let (manifest, selected) = split_args(self.args);
        let built = build(&manifest, &selected)?;
        wasmhub_state::look_only();
        let app = load_app(&manifest, GrantFlags::default())?;
        let engines = crate::commands::check::check_engines(&self.cache, &app)?;
        let cache = self.cache.cache();
        println!(
            "built {built} component{}; checking app \"{}\"",
            if built == 1 { "" } else { "s" },
            app.name
        );
        crate::commands::check::prepare_and_report(&engines, cache.as_ref(), app)?;
        Ok(0)
    }
}

/// The manifest (an argument ending in .toml, else ./wasmhub.toml) and the component names.
pub fn split_args(args: Vec<String>) -> (PathBuf, Vec<String>) {
    let (tomls, names): (Vec<String>, Vec<String>) =
        args.into_iter().partition(|a| a.ends_with(".toml"));
    let manifest = tomls
        .into_iter()
        .last()
        .map_or_else(|| PathBuf::from("wasmhub.toml"), PathBuf::from);
    (manifest, names)
}

/// Builds `selected` components of `manifest` (all if empty); returns how many were built.
pub fn build(manifest: &Path, selected: &[String]) -> Result<usize> {
    let m = wasmhub_manifest::load_with(manifest, Sources::MayBeBuilt)?;
    let targets = wasmhub_dev::plan(&m, selected)?;
    let lines: wasmhub_dev::Lines = Arc::new(|line: &str| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    });
    wasmhub_dev::build_all(&targets, &lines)
        .with_context(|| format!("build of app \"{}\" stopped", m.app.name))?;
    Ok(targets.len())
}
