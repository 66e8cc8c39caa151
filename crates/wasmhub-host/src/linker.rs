//! The linker for `run`/`invoke`, and the check that every import is provided before instantiating.

use anyhow::Result;
use wasmhub_caps::{Capability, classify_import};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::HostState;

/// A linker with WASI 0.2 (`wasi:cli`, filesystem, clocks, random, sockets); access comes from grants.
pub fn cli_linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    Ok(linker)
}

/// An import that neither the host nor a grant can provide.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(.import, .capability))]
pub struct MissingImport {
    /// The full import name.
    pub import: String,
    /// What kind of access it asks for.
    pub capability: Capability,
}

fn describe(import: &str, capability: &Capability) -> String {
    match capability {
        Capability::OutboundHttp | Capability::HttpTypes => format!(
            "the component imports {import}, which `run` and `invoke` do not provide: \
             wasi:http is provided to components served by `wasmhub serve`"
        ),
        Capability::Unknown => format!(
            "the component imports {import}, which no host provides: no grant can supply it; \
             compose the component with one that exports it (for example `wac plug`) before running"
        ),
        _ => format!(
            "the component imports {import}, a WASI version this host does not provide \
             (it links WASI 0.2.x); rebuild the component against WASI 0.2"
        ),
    }
}

/// Which host interfaces a verb links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provides {
    /// WASI 0.2 `wasi:cli` world: `run` and `invoke`.
    Cli,
    /// That plus `wasi:http` types and outgoing handler: `serve`.
    Http,
}

/// Fails with the first import the linker for `provides` cannot satisfy, naming it and what would.
pub fn check_imports(
    engine: &Engine,
    component: &Component,
    provides: Provides,
) -> Result<(), MissingImport> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        let need = classify_import(name);
        let http = matches!(
            need.capability,
            Capability::OutboundHttp | Capability::HttpTypes
        ) && need
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with("0.2."));
        if !(need.provided || (http && provides == Provides::Http)) {
            return Err(MissingImport {
                import: name.to_owned(),
                capability: need.capability,
            });
        }
    }
    Ok(())
}
