//! Loading an app's component: its size budget first, then compiled code through the cache.

use anyhow::{Context, Result};
use wasmhub_app::{AppComponent, Budget};
use wasmhub_core::{CompileCache, Exceeded, Loaded, check_size, load_component};
use wasmtime::Engine;
use wasmtime::component::Component;

/// `component "cart" (cart.wasm, declared at wasmhub.toml:4)`: how errors name `c`.
pub fn describe_component(c: &AppComponent) -> String {
    format!(
        "component \"{}\" ({}{})",
        c.name,
        c.source.display(),
        c.origin
            .as_ref()
            .map(|o| format!(", declared at {o}"))
            .unwrap_or_default()
    )
}

/// Checks `c`'s file against `budget`'s size cap and loads it through `cache`.
pub fn load_checked(
    engine: &Engine,
    cache: Option<&CompileCache>,
    c: &AppComponent,
    budget: &Budget,
) -> Result<Component> {
    load_checked_code(engine, cache, c, budget).map(|loaded| loaded.component)
}

/// [`load_checked`], with the code's digest and whether it was compiled.
pub fn load_checked_code(
    engine: &Engine,
    cache: Option<&CompileCache>,
    c: &AppComponent,
    budget: &Budget,
) -> Result<Loaded> {
    check_size_of(c, budget)?;
    load_component(engine, cache, &c.source).with_context(|| describe_component(c))
}

/// Checks `c`'s file against `budget`'s size cap.
pub fn check_size_of(c: &AppComponent, budget: &Budget) -> Result<()> {
    check_size(&c.source, budget).map_err(|exceeded| {
        anyhow::Error::from(Exceeded {
            who: format!("component \"{}\"", c.name),
            exceeded,
        })
        .context(describe_component(c))
    })
}
