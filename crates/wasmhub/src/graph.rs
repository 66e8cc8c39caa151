//! A manifest's component picked by name, with the graph of its runtime links.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use wasmhub_app::{App, AppComponent, Budget};
use wasmhub_core::CompileCache;
use wasmhub_host::Graph;
use wasmtime::Engine;

/// Whether `path` names an app manifest rather than a component.
pub fn is_manifest(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "toml")
}

/// The index of component `name` in `app`; the only component when no name is given.
pub fn pick(app: &App, name: Option<&str>, manifest: &Path) -> Result<usize> {
    let names = || {
        app.components
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(n) => app
            .components
            .iter()
            .position(|c| c.name == n)
            .with_context(|| {
                format!(
                    "{} has no component \"{n}\": pick one of {} with --component",
                    manifest.display(),
                    names()
                )
            }),
        None if app.components.len() == 1 => Ok(0),
        None => bail!(
            "{} has {} components: pick one with --component NAME ({})",
            manifest.display(),
            app.components.len(),
            names()
        ),
    }
}

/// The links reachable from `roots`, checked and ready; components load through `cache`.
pub fn build(
    engine: &Engine,
    cache: Option<&CompileCache>,
    app: &App,
    roots: &[usize],
    budget: &dyn Fn(&AppComponent) -> Budget,
) -> Result<Arc<Graph>> {
    Graph::build(
        engine,
        app,
        roots,
        &mut |c| wasmhub_host::load_checked(engine, cache, c, &budget(c)),
        budget,
    )
}

/// Checks every component's links and draws them: component -> import -> target.
pub fn print_links(engine: &Engine, cache: Option<&CompileCache>, app: &App) -> Result<()> {
    if app.components.iter().all(|c| c.links.is_empty()) {
        return Ok(());
    }
    let all: Vec<usize> = (0..app.components.len()).collect();
    let graph = build(engine, cache, app, &all, &|c| c.budget)?;
    println!("\nlinks:");
    for (i, c) in app.components.iter().enumerate() {
        let is_target = app
            .components
            .iter()
            .any(|o| o.links.iter().any(|l| l.target == c.name));
        if !c.links.is_empty() && !is_target {
            for line in graph.draw(i).lines() {
                println!("  {line}");
            }
        }
    }
    Ok(())
}
