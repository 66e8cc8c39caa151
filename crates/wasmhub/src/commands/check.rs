//! `wasmhub check`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use wasmhub_app::{App, AppComponent, human_bytes};
use wasmhub_caps::{Audit, Capability, compact_imports, grant_rows};
use wasmhub_core::{CompileCache, EngineKind, Engines, Metering, load_component, ms, thousands};
use wasmtime::Engine;

use crate::common::{CacheFlags, GrantFlags, IsolationFlag, StrictFlag, load_app};

/// Validate an app manifest (or a component) exactly as `serve` would, without serving.
///
/// Checks every key and value, that each source exists, compiles and exports
/// wasi:http/incoming-handler, that its imports can be provided and are granted, and that
/// routes are unique. Prints, per component, what it imports, what it is granted and
/// where (manifest line or flag), and grants it never uses.
#[derive(Parser)]
pub struct CheckCommand {
    #[command(flatten)]
    grants: GrantFlags,
    #[command(flatten)]
    state: crate::common::StateFlags,
    #[command(flatten)]
    cache: CacheFlags,
    #[command(flatten)]
    strict: StrictFlag,
    #[command(flatten)]
    budget: crate::budget::ServeBudgetFlags,
    #[command(flatten)]
    isolation: IsolationFlag,
    /// An app manifest (.toml) or a component (.wasm).
    target: PathBuf,
}

impl CheckCommand {
    /// Prints the audit, then fails with the first problem, if any.
    pub fn execute(self) -> Result<i32> {
        wasmhub_state::look_only();
        self.state.apply()?;
        checked(
            &self.target,
            self.grants,
            &self.cache,
            self.strict,
            &self.budget,
            self.isolation,
        )?;
        Ok(0)
    }
}

/// Resolves and checks the app at `target` as `check` does, printing its audit; the
/// resolved app (what `deploy` pins).
pub fn checked(
    target: &std::path::Path,
    grants: GrantFlags,
    cache: &CacheFlags,
    strict: StrictFlag,
    budget: &crate::budget::ServeBudgetFlags,
    isolation: IsolationFlag,
) -> Result<App> {
    let mut app = load_app(target, grants)?;
    strict.apply(&mut app);
    budget.apply(&mut app);
    isolation.apply(&mut app);
    let engines = check_engines(cache, &app)?;
    let engine = engines.widest();
    let compiled = cache.cache();
    println!("app \"{}\" ({})", app.name, target.display());
    for c in &app.components {
        audit_component(engine, compiled.as_ref(), c)?;
    }
    crate::graph::print_links(engine, compiled.as_ref(), &app)?;
    crate::stores::print_stores(&app)?;
    println!();
    prepare_and_report(&engines, compiled.as_ref(), app.clone())?;
    Ok(app)
}

/// Prepares `app` exactly as `serve` would (compile, check, pre-link) and says whether it
/// can be served.
pub fn prepare_and_report(engines: &Engines, cache: Option<&CompileCache>, app: App) -> Result<()> {
    let options = wasmhub_http::ServeOptions::default();
    let prepared = wasmhub_http::prepare_on(engines, cache, app, &options)?;
    if prepared.is_routed() {
        println!("ok: app \"{}\" can be served", prepared.app.name);
    } else {
        println!(
            "ok: app \"{}\" is valid; it has no routed component, so `serve` would refuse \
             it (invoke and compose work)",
            prepared.app.name
        );
    }
    Ok(())
}

/// The engines `check` (and `build`, after building) prepares `app` with: `serve`'s, so
/// the code they compile is cached for it.
pub fn check_engines(cache: &CacheFlags, app: &App) -> Result<Engines> {
    Engines::build(app, Metering::for_app(app), |metering| {
        cache.engine(EngineKind::Serve {
            max_instances: wasmhub_http::ServeOptions::default().max_instances,
            metering,
        })
    })
}

/// Prints one component's imports, grant table, unused grants and refusals.
fn audit_component(engine: &Engine, cache: Option<&CompileCache>, c: &AppComponent) -> Result<()> {
    let route = c
        .route
        .as_ref()
        .map_or_else(|| "(not routed)".to_owned(), |r| r.to_string());
    println!(
        "\ncomponent \"{}\" {route} -> {}",
        c.name,
        c.source.display()
    );
    println!("  isolation: {}, tenant \"{}\"", c.isolation, c.tenant);
    let loaded = load_component(engine, cache, &c.source)
        .with_context(|| format!("component \"{}\"", c.name))?;
    let ty = loaded.component.component_type();
    let audit = Audit::new(ty.imports(engine).map(|(n, _)| n), &c.grants);
    println!("  imports:");
    if audit.needs.is_empty() {
        println!("    none");
    }
    for (cap, imports) in &audit.needs {
        let (linked, rest): (Vec<&String>, Vec<&String>) = imports.iter().partition(|i| {
            *cap == Capability::Unknown && c.links.iter().any(|l| l.import.matches(i))
        });
        for import in linked {
            let link = c.links.iter().find(|l| l.import.matches(import));
            let target = link.map_or("", |l| l.target.as_str());
            println!("    {:<24} {import} -> component \"{target}\"", "linked");
        }
        if !rest.is_empty() {
            let rest: Vec<String> = rest.into_iter().cloned().collect();
            println!("    {:<24} {}", cap.name(), compact_imports(&rest));
        }
    }
    println!("  grants:");
    print_table(
        ("capability", "granted", "where"),
        &grant_rows(&c.grants)
            .into_iter()
            .map(|(a, b, c)| (a.to_owned(), b, c))
            .collect::<Vec<_>>(),
    );
    let b = if c.route.is_some() {
        c.budget.with_serve_defaults()
    } else {
        c.budget
    };
    let show = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    println!(
        "  budget: size {}, fuel {}, deadline {}, memory {}, stack {}{}",
        show(b.size.map(human_bytes)),
        show(b.fuel.map(thousands)),
        if c.route.is_some() && b.deadline.is_none() {
            "the request timeout".to_owned()
        } else {
            show(b.deadline.map(ms))
        },
        show(b.memory.map(human_bytes)),
        human_bytes(b.stack.unwrap_or(wasmhub_core::DEFAULT_STACK)),
        if b.profile.is_some() {
            " (profile \"function\")"
        } else {
            ""
        }
    );
    if c.route.is_some() && c.reuse.is_reused() {
        println!(
            "  reuse: one instance serves up to {} requests: state can carry from one request \
             to the next (globals, memory, open handles); an instance that fails is never reused",
            c.reuse
        );
    }
    print_capabilities(&audit, c);
    for warning in &audit.unused {
        println!("  warning: {warning}");
    }
    for refusal in &audit.refusals {
        println!("  refused: {refusal}");
    }
    Ok(())
}

/// Each grantable capability in one of three states: granted and imported, imported but
/// not granted (its calls will be denied, or it is refused in strict mode), granted but not
/// imported.
fn print_capabilities(audit: &Audit, c: &AppComponent) {
    let g = &c.grants;
    let caps = [
        (Capability::Env, "env", !g.env.is_empty()),
        (Capability::Files, "files", !g.dirs.is_empty()),
        (
            Capability::Sockets,
            "sockets",
            !g.connect.is_empty() || !g.bind.is_empty(),
        ),
        (Capability::OutboundHttp, "outbound", !g.outbound.is_empty()),
        (Capability::KeyValue, "keyvalue", !g.keyvalue.is_empty()),
        (Capability::Config, "config", !g.config.is_empty()),
    ];
    let rows: Vec<(String, String, String)> = caps
        .into_iter()
        .filter_map(|(cap, name, granted)| {
            let imported = audit.needs.contains_key(&cap);
            let (state, detail) = match (imported, granted) {
                (true, true) => ("granted, imported", String::new()),
                (false, true) => ("granted, not imported", "the grant has no effect".into()),
                (false, false) => return None,
                (true, false) if cap == Capability::Env => (
                    "imported, not granted",
                    "the guest sees no variables".into(),
                ),
                (true, false) => {
                    let refused = audit.refusals.iter().any(|r| r.capability == cap);
                    let detail = if refused {
                        format!("refused before running (strict, {})", g.strict.origin)
                    } else {
                        "calls will be denied".into()
                    };
                    ("imported, not granted", detail)
                }
            };
            Some((name.to_owned(), state.to_owned(), detail))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    println!("  capabilities:");
    print_table(("capability", "state", "meaning"), &rows);
    for denied in &audit.denied_at_call {
        println!("  denied at the call: {}", Audit::will_be_denied(denied));
    }
}

fn print_table(head: (&str, &str, &str), rows: &[(String, String, String)]) {
    let w0 = rows
        .iter()
        .map(|r| r.0.len())
        .chain([head.0.len()])
        .max()
        .unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| r.1.len())
        .chain([head.1.len()])
        .max()
        .unwrap_or(0);
    println!("    {:<w0$}  {:<w1$}  {}", head.0, head.1, head.2);
    for (a, b, c) in rows {
        println!("    {a:<w0$}  {b:<w1$}  {c}");
    }
}
