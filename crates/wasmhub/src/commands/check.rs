//! `wasmhub check`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use wasmhub_core::{EngineKind, new_engine};

use crate::common::{CacheFlags, GrantFlags, load_app};

/// Validate an app manifest (or a component) exactly as `serve` would, without serving.
///
/// Checks every key and value, that each source exists, compiles and exports
/// wasi:http/incoming-handler, that its imports can be provided, and that routes are unique.
#[derive(Parser)]
pub struct CheckCommand {
    #[command(flatten)]
    cache: CacheFlags,
    /// An app manifest (.toml) or a component (.wasm).
    target: PathBuf,
}

impl CheckCommand {
    /// Prints a summary, or fails with the first problem.
    pub fn execute(self) -> Result<i32> {
        let engine = new_engine(EngineKind::Serve {
            max_instances: wasmhub_http::ServeOptions::default().max_instances,
        })?;
        let app = load_app(&self.target, GrantFlags::default())?;
        let prepared = wasmhub_http::prepare(&engine, self.cache.cache().as_ref(), app)?;
        println!("ok: app \"{}\"", prepared.app.name);
        for c in &prepared.app.components {
            let route = c
                .route
                .as_ref()
                .map_or_else(|| "(not routed)".to_owned(), |r| r.to_string());
            println!("  {route} -> {} ({})", c.name, c.source.display());
        }
        Ok(0)
    }
}
