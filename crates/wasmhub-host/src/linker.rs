//! The linker for `run`/`invoke`, and the check that every import is provided before instantiating.

use anyhow::Result;
use wasmhub_caps::{Audit, Capability, Grants, classify_import};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::HostState;

/// A linker with WASI 0.2 (`wasi:cli`, filesystem, clocks, random, sockets, and `wasi:http`
/// types and outgoing requests); access comes from grants.
pub fn cli_linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    crate::ungranted::link_ungranted(&mut linker)?;
    wasmhub_state::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// Adds WASI 0.3 (`wasi:cli`, clocks, filesystem, random, sockets and `wasi:http` at
/// 0.3.x) beside 0.2: a 0.3 guest built with Rust's std still imports some 0.2 interfaces.
pub fn add_wasi3(linker: &mut Linker<HostState>) -> Result<()> {
    wasmtime_wasi::p3::add_to_linker(linker)?;
    wasmtime_wasi_http::p3::add_to_linker(linker)?;
    wasmhub_state::add_wasi3_to_linker(linker)?;
    Ok(())
}

/// Whether `component` needs WASI 0.3: it imports a `wasi:*@0.3.*` interface or has an
/// `async func` among its exports.
pub fn uses_wasi3(engine: &Engine, component: &Component) -> bool {
    let ty = component.component_type();
    ty.imports(engine).any(|(name, _)| {
        wasmhub_app::WasiVersion::of_import(name) == Some(wasmhub_app::WasiVersion::P3)
    }) || crate::exported_funcs(engine, component)
        .iter()
        .any(|f| f.ty.async_())
}

/// An import that neither the host nor a grant can provide.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(.import, *.reason))]
pub struct MissingImport {
    /// The full import name.
    pub import: String,
    /// What kind of access it asks for.
    pub capability: Capability,
    /// Why it is missing, which decides the fix.
    pub reason: MissingReason,
}

/// Why an import cannot be linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingReason {
    /// No host implements it: another component must.
    NoHost,
    /// A WASI interface at a version this host does not link.
    WasiVersion,
}

fn describe(import: &str, reason: MissingReason) -> String {
    match reason {
        MissingReason::NoHost => format!(
            "the component imports {import}, which no host provides: no grant can supply it; \
             another component must export it: link them in a manifest \
             ([component.NAME.link] \"{}\" = \"OTHER\") or compose them \
             (`wasmhub compose COMPONENT --plug OTHER.wasm -o out.wasm`)",
            import.split('@').next().unwrap_or(import)
        ),
        MissingReason::WasiVersion => format!(
            "the component imports {import}, a WASI version this host does not provide \
             (it links WASI 0.2.x, and 0.3.x for components that opt in); rebuild the \
             component against WASI 0.2 or 0.3"
        ),
    }
}

/// Fails with the first import neither the host nor a link (`linked`) satisfies, naming it and
/// what would.
pub fn check_imports(
    engine: &Engine,
    component: &Component,
    linked: &[String],
) -> Result<(), MissingImport> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        if linked.iter().any(|l| l == name) {
            continue;
        }
        let need = classify_import(name);
        let is_02 = need
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with("0.2.") || v.starts_with("0.3."));
        let http = matches!(
            need.capability,
            Capability::OutboundHttp | Capability::HttpTypes
        );
        let reason = match need.capability {
            _ if need.provided || (http && is_02) => continue,
            Capability::Unknown => MissingReason::NoHost,
            _ => MissingReason::WasiVersion,
        };
        return Err(MissingImport {
            import: name.to_owned(),
            capability: need.capability,
            reason,
        });
    }
    Ok(())
}

/// Decides before instantiation: every import must be provided (by the host, or by a link
/// in `linked`) and covered by `grants`.
pub fn admit(
    engine: &Engine,
    component: &Component,
    grants: &Grants,
    linked: &[String],
) -> anyhow::Result<Audit> {
    check_imports(engine, component, linked)?;
    let ty = component.component_type();
    let audit = Audit::new(ty.imports(engine).map(|(name, _)| name), grants);
    audit.verdict()?;
    Ok(audit)
}
