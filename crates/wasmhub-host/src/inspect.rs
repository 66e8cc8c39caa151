//! `inspect`: a component's world as WIT, its kind, and the capabilities its imports need.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use wasmhub_caps::{Capability, classify_import};
use wasmtime::Engine;
use wasmtime::component::Component;
use wit_component::{DecodedWasm, WitPrinter};

use crate::exported_funcs;

/// What a component is for, judged by its exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    /// Exports `wasi:cli/run`: `wasmhub run` it.
    Command,
    /// Exports `wasi:http/incoming-handler`: `wasmhub serve` it.
    HttpProxy,
    /// Exports `wasi:http/handler` (WASI 0.3): `wasmhub serve` it.
    HttpHandler3,
    /// Exports functions: `wasmhub invoke` them.
    Library,
}

impl ComponentKind {
    /// Lowercase name with the verb that uses it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Command => "command (wasi:cli/run; use `wasmhub run`)",
            Self::HttpProxy => "wasi:http proxy (wasi:http/incoming-handler; use `wasmhub serve`)",
            Self::HttpHandler3 => {
                "wasi:http handler, WASI 0.3 (wasi:http/handler; use `wasmhub serve`)"
            }
            Self::Library => "library (exported functions; use `wasmhub invoke`)",
        }
    }

    /// One word, for JSON.
    pub fn word(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::HttpProxy => "http-proxy",
            Self::HttpHandler3 => "http-handler-0.3",
            Self::Library => "library",
        }
    }
}

/// Everything `inspect` reports.
pub struct Inspection {
    /// What it is for.
    pub kind: ComponentKind,
    /// Import names, in order.
    pub imports: Vec<String>,
    /// Export names, in order.
    pub exports: Vec<String>,
    /// Exported functions with signatures.
    pub functions: Vec<String>,
    /// Each capability its imports need, with the imports behind it.
    pub capabilities: BTreeMap<Capability, Vec<String>>,
    /// The world as WIT text.
    pub wit: String,
}

/// Inspects a compiled component and its original bytes.
pub fn inspect(engine: &Engine, component: &Component, bytes: &[u8]) -> Result<Inspection> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
    let has = |prefix: &str| exports.iter().any(|e| e.starts_with(prefix));
    let kind = if has("wasi:cli/run@") {
        ComponentKind::Command
    } else if has("wasi:http/incoming-handler@") {
        ComponentKind::HttpProxy
    } else if has("wasi:http/handler@") {
        ComponentKind::HttpHandler3
    } else {
        ComponentKind::Library
    };
    let mut capabilities: BTreeMap<Capability, Vec<String>> = BTreeMap::new();
    for import in &imports {
        let need = classify_import(import);
        if need.capability != Capability::Io {
            capabilities
                .entry(need.capability)
                .or_default()
                .push(import.clone());
        }
    }
    let functions = exported_funcs(engine, component)
        .iter()
        .map(|f| f.describe())
        .collect();
    Ok(Inspection {
        kind,
        imports,
        exports,
        functions,
        capabilities,
        wit: world_wit(bytes)?,
    })
}

/// Prints the component's world, and the non-WASI packages it uses, as WIT.
fn world_wit(bytes: &[u8]) -> Result<String> {
    let decoded = wit_component::decode(bytes).context("cannot decode the component's WIT")?;
    let DecodedWasm::Component(resolve, world) = decoded else {
        anyhow::bail!("not a component");
    };
    let root = resolve.worlds[world]
        .package
        .context("the decoded world has no package")?;
    let nested: Vec<_> = resolve
        .packages
        .iter()
        .filter(|(id, p)| *id != root && p.name.namespace != "wasi")
        .map(|(id, _)| id)
        .collect();
    let mut printer = WitPrinter::default();
    printer.emit_docs(false);
    printer.print(&resolve, root, &nested)?;
    Ok(printer.output.to_string())
}
