//! Resolving and checking an app's links before anything runs.

use anyhow::{Result, bail};
use wasmhub_app::{App, Link};
use wasmhub_caps::{Capability, classify_import};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use super::fit::first_difference;

/// A checked link: `import` (the full import name) is served by `target`'s `export`.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The import as the component names it (`acme:pricing/calc@0.1.0`).
    pub import: String,
    /// The app component serving it.
    pub target: usize,
    /// The export of `target` that serves it.
    pub export: String,
    /// Where the link was written.
    pub at: String,
}

/// The components reachable from `roots` through links, refusing a cycle with its path.
pub fn reachable(app: &App, roots: &[usize]) -> Result<Vec<usize>> {
    let index = |name: &str| app.components.iter().position(|c| c.name == name);
    let mut seen = Vec::new();
    let mut path: Vec<(usize, Option<&Link>)> = Vec::new();
    fn visit<'a>(
        app: &'a App,
        i: usize,
        via: Option<&'a Link>,
        index: &dyn Fn(&str) -> Option<usize>,
        seen: &mut Vec<usize>,
        path: &mut Vec<(usize, Option<&'a Link>)>,
    ) -> Result<()> {
        if let Some(start) = path.iter().position(|(p, _)| *p == i) {
            let mut names: Vec<&str> = path[start..]
                .iter()
                .map(|(p, _)| app.components[*p].name.as_str())
                .collect();
            names.push(&app.components[i].name);
            let ats: Vec<&str> = path[start + 1..]
                .iter()
                .filter_map(|(_, l)| l.map(|l| l.at.as_str()))
                .chain(via.map(|l| l.at.as_str()))
                .collect();
            bail!(
                "links form a cycle: {} ({}); a component cannot reach itself through links: \
                 remove one of these links",
                names.join(" -> "),
                ats.join(", ")
            );
        }
        if seen.contains(&i) {
            return Ok(());
        }
        path.push((i, via));
        for link in &app.components[i].links {
            if let Some(t) = index(&link.target) {
                visit(app, t, Some(link), index, seen, path)?;
            }
        }
        path.pop();
        seen.push(i);
        Ok(())
    }
    for &r in roots {
        visit(app, r, None, &index, &mut seen, &mut path)?;
    }
    Ok(seen)
}

/// Checks component `i`'s links against the loaded components and resolves them; also
/// refuses an unlinked import that only another component could serve.
pub fn resolve(
    engine: &Engine,
    app: &App,
    i: usize,
    loaded: &[Option<Component>],
    exporters: &mut dyn FnMut(&str) -> Vec<String>,
) -> Result<Vec<Resolved>> {
    let c = &app.components[i];
    let component = loaded[i].as_ref().expect("loaded before resolving");
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();
    let mut out = Vec::new();
    for link in &c.links {
        let Some(import) = imports.iter().find(|n| link.import.matches(n)) else {
            let others: Vec<&str> = imports
                .iter()
                .filter(|n| classify_import(n).capability == Capability::Unknown)
                .map(String::as_str)
                .collect();
            bail!(
                "component \"{}\" does not import {} ({}): {}",
                c.name,
                link.import,
                link.at,
                if others.is_empty() {
                    "it imports no interface a link could serve; remove the link".to_owned()
                } else {
                    format!("its linkable imports are {}", others.join(", "))
                }
            );
        };
        let t = app
            .components
            .iter()
            .position(|x| x.name == link.target)
            .expect("the manifest checked link targets");
        let target = loaded[t].as_ref().expect("loaded before resolving");
        let tty = target.component_type();
        let wanted = import.split('@').next().unwrap_or(import);
        let export = tty
            .exports(engine)
            .map(|(n, _)| n.to_owned())
            .filter(|n| n.split('@').next() == Some(wanted))
            .max_by_key(|n| n == import);
        let Some(export) = export else {
            let by = exporters(import);
            bail!(
                "component \"{}\" does not export {} (link of component \"{}\" at {}); {}",
                link.target,
                wanted,
                c.name,
                link.at,
                if by.is_empty() {
                    "no component of this app exports it".to_owned()
                } else {
                    format!("link to a component that does: {}", quoted(&by))
                }
            );
        };
        let (
            Some(ComponentItem::ComponentInstance(want)),
            Some(ComponentItem::ComponentInstance(have)),
        ) = (
            ty.get_import(engine, import).map(|e| e.ty),
            tty.get_export(engine, &export).map(|e| e.ty),
        )
        else {
            bail!(
                "{import} is not an interface on both sides of the link at {}",
                link.at
            );
        };
        let a = format!("component \"{}\"", c.name);
        let b = format!("component \"{}\"", link.target);
        if let Some(diff) = first_difference(engine, &want, &have, &a, &b) {
            bail!(
                "link {} -> {} ({}) does not fit: in {import}, {diff}; rebuild both against \
                 the same WIT",
                c.name,
                link.target,
                link.at
            );
        }
        out.push(Resolved {
            import: import.clone(),
            target: t,
            export,
            at: link.at.clone(),
        });
    }
    for import in &imports {
        let linked = out.iter().any(|r| &r.import == import);
        if linked || classify_import(import).capability != Capability::Unknown {
            continue;
        }
        let by = exporters(import);
        let key = import.split('@').next().unwrap_or(import);
        let fix = match by.first() {
            Some(first) => format!(
                "add `\"{key}\" = \"{first}\"` under [component.{}.link] (exported by {})",
                c.name,
                quoted(&by)
            ),
            None => format!(
                "no component of this app exports it: add one that does, and link it under \
                 [component.{}.link]",
                c.name
            ),
        };
        bail!(
            "component \"{}\" imports {import}, which no host provides and no link serves: {fix}",
            c.name
        );
    }
    Ok(out)
}

/// `"a", "b"`.
fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
