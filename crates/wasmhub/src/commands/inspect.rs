//! `wasmhub inspect`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use serde_json::json;

use crate::common::CacheFlags;

/// Show a component's world as WIT, its size, kind, and the capabilities its imports need.
///
/// Prints text by default, JSON with --json. Given an app manifest (wasmhub.toml or
/// spin.toml), lists its components and draws the graph of their links (component ->
/// import -> target); with `--component NAME`, reports that component as for a lone one.
#[derive(Parser)]
pub struct InspectCommand {
    #[command(flatten)]
    cache: CacheFlags,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// With a manifest: report this component of the app in full.
    #[arg(long = "component", value_name = "NAME")]
    name: Option<String>,
    /// The component (.wasm), or an app manifest (.toml).
    component: PathBuf,
}

impl InspectCommand {
    /// Prints the report.
    pub fn execute(self) -> Result<i32> {
        let component = if crate::graph::is_manifest(&self.component) {
            let Some(name) = &self.name else {
                return self.app();
            };
            let app = crate::common::load_app(&self.component, Default::default())?;
            let i = crate::graph::pick(&app, Some(name), &self.component)?;
            app.components[i].source.clone()
        } else if let Some(name) = &self.name {
            anyhow::bail!(
                "--component {name} picks a component of an app manifest, but {} is not a .toml manifest",
                self.component.display()
            );
        } else {
            crate::oci::local(&self.component)?
        };
        let (engine, loaded) = self.cache.load(&component, describe_any())?;
        let bytes = std::fs::read(&component)
            .with_context(|| format!("cannot read component {}", self.component.display()))?;
        let report = wasmhub_host::inspect(&engine, &loaded.component, &bytes)?;
        if self.json {
            let caps: serde_json::Map<String, serde_json::Value> = report
                .capabilities
                .iter()
                .map(|(c, imports)| (c.name().to_owned(), json!(imports)))
                .collect();
            let out = json!({
                "path": component.display().to_string(),
                "size": loaded.size,
                "sha256": loaded.digest,
                "kind": report.kind.word(),
                "imports": report.imports,
                "exports": report.exports,
                "functions": report.functions,
                "capabilities": caps,
                "wit": report.wit,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(0);
        }
        println!("component: {}", component.display());
        println!(
            "size:      {} ({} bytes)",
            human_size(loaded.size),
            loaded.size
        );
        println!("sha256:    {}", loaded.digest);
        println!("kind:      {}", report.kind.describe());
        println!("capabilities its imports need:");
        if report.capabilities.is_empty() {
            println!("  none");
        }
        for (cap, imports) in &report.capabilities {
            let grant = cap
                .cli_grant()
                .map(|g| format!(" (grant with {g})"))
                .unwrap_or_default();
            println!("  {}{grant}: {}", cap.name(), imports.join(", "));
        }
        if !report.functions.is_empty() {
            println!("functions:");
            for f in &report.functions {
                println!("  {f}");
            }
        }
        println!("world:");
        for line in report.wit.lines() {
            println!("  {line}");
        }
        Ok(0)
    }
}

impl InspectCommand {
    /// The app's components, each with its kind, then its links as a tree.
    fn app(self) -> Result<i32> {
        if self.json {
            anyhow::bail!(
                "--json describes one component; pick one of {} with --component NAME",
                self.component.display()
            );
        }
        let app = crate::common::load_app(&self.component, Default::default())?;
        let engine = wasmhub_core::new_engine(wasmhub_core::EngineKind::OneShot(describe_any()))?;
        let cache = self.cache.cache();
        println!("app \"{}\" ({})", app.name, self.component.display());
        println!("components:");
        let width = app
            .components
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(0);
        for c in &app.components {
            let loaded = wasmhub_core::load_component(&engine, cache.as_ref(), &c.source)
                .with_context(|| wasmhub_host::describe_component(c))?;
            let bytes = std::fs::read(&c.source)?;
            let report = wasmhub_host::inspect(&engine, &loaded.component, &bytes)?;
            println!(
                "  {:<width$}  {}  {}",
                c.name,
                c.source.display(),
                report.kind.word()
            );
        }
        crate::graph::print_links(&engine, cache.as_ref(), &app)?;
        Ok(0)
    }
}

/// An engine that loads any component, WASI 0.3 ones too: inspecting runs nothing.
fn describe_any() -> wasmhub_core::Metering {
    wasmhub_core::Metering {
        wasi3: true,
        ..Default::default()
    }
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
