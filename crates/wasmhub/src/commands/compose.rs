//! `wasmhub compose`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Parser;
use wasmhub_compose::{Part, Wire};
use wasmhub_core::{EngineKind, Metering, new_engine};
use wasmtime::component::Component;

use crate::common::{GrantFlags, load_app};

/// Write one component made of linked components (static composition).
///
/// From a manifest, the component picked with --component and every component its links
/// reach, wired as [component.NAME.link] says (checked as `serve` checks them). From a
/// component, like `wac plug`: each of its imports that a --plug component exports is served
/// by that plug. The result runs anywhere a component runs (wasmhub, wasmtime, jco).
#[derive(Parser)]
pub struct ComposeCommand {
    /// With a manifest: the root component (default: its only component).
    #[arg(long = "component", value_name = "NAME")]
    name: Option<String>,
    /// A component whose exports serve the root's imports (repeatable; not with a manifest).
    #[arg(long = "plug", value_name = "PLUG.wasm")]
    plugs: Vec<PathBuf>,
    /// Where to write the composed component.
    #[arg(short = 'o', long = "output", value_name = "OUT.wasm")]
    output: PathBuf,
    /// An app manifest (.toml), or the root component (.wasm) with --plug.
    target: PathBuf,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

impl ComposeCommand {
    /// Composes and writes the result.
    pub fn execute(self) -> Result<i32> {
        let engine = new_engine(EngineKind::OneShot(Metering::default()))?;
        let bytes = if crate::graph::is_manifest(&self.target) {
            self.compose_manifest(&engine)?
        } else {
            if let Some(name) = &self.name {
                bail!(
                    "--component {name} picks a component of a manifest; {} is not a .toml manifest",
                    self.target.display()
                );
            }
            if self.plugs.is_empty() {
                bail!(
                    "nothing to compose: give the components that serve {}'s imports with --plug PLUG.wasm, or compose from a manifest's links",
                    self.target.display()
                );
            }
            let mut parts = vec![Part {
                name: self.target.display().to_string(),
                bytes: read(&self.target)?,
            }];
            for p in &self.plugs {
                parts.push(Part {
                    name: p.display().to_string(),
                    bytes: read(p)?,
                });
            }
            wasmhub_compose::plug(&parts)?
        };
        // What we write must load here as it is.
        Component::new(&engine, &bytes)
            .map_err(anyhow::Error::from)
            .context("the composed component does not load in Wasmtime")?;
        std::fs::write(&self.output, &bytes)
            .with_context(|| format!("cannot write {}", self.output.display()))?;
        eprintln!("composed {} ({} bytes)", self.output.display(), bytes.len());
        Ok(0)
    }

    fn compose_manifest(&self, engine: &wasmtime::Engine) -> Result<Vec<u8>> {
        if !self.plugs.is_empty() {
            bail!(
                "--plug composes a component; a manifest's links already say what serves each import"
            );
        }
        let app = load_app(&self.target, GrantFlags::default())?;
        let root = crate::graph::pick(&app, self.name.as_deref(), &self.target)?;
        let graph = crate::graph::build(engine, None, &app, &[root], &|c| c.budget)?;
        let reached: Vec<usize> = (0..app.components.len())
            .filter(|&i| graph.component(i).is_some())
            .collect();
        let at = |i: usize| reached.iter().position(|&r| r == i).expect("reached");
        let mut parts = Vec::new();
        let mut wires = Vec::new();
        for &i in &reached {
            let c = &app.components[i];
            parts.push(Part {
                name: format!("component \"{}\"", c.name),
                bytes: read(&c.source)?,
            });
            for r in graph.links(i) {
                wires.push(Wire {
                    importer: at(i),
                    import: r.import.clone(),
                    target: at(r.target),
                    export: r.export.clone(),
                });
            }
        }
        wasmhub_compose::compose(&parts, &wires, at(root))
    }
}
