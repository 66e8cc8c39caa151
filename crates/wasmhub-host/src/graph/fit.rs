//! Whether an exported interface serves an import: the first difference between their types.

use wasmtime::Engine;
use wasmtime::component::ResourceType;
use wasmtime::component::types::{ComponentFunc, ComponentInstance, ComponentItem};

use crate::signature::type_text;

/// The resources an interface defines, by name, to name `own<...>`/`borrow<...>` in types.
fn resources(engine: &Engine, iface: &ComponentInstance) -> Vec<(ResourceType, String)> {
    iface
        .exports(engine)
        .filter_map(|(name, item)| match item.ty {
            ComponentItem::Resource(r) => Some((r, name.to_owned())),
            _ => None,
        })
        .collect()
}

/// A function's parameter and result types as text, resources by name.
fn func_text(
    f: &ComponentFunc,
    names: &[(ResourceType, String)],
) -> (Vec<(String, String)>, Vec<String>) {
    let name_of = |r: &ResourceType| {
        names.iter().find(|(t, _)| t == r).map_or_else(
            || "a resource of another interface".to_owned(),
            |(_, n)| n.clone(),
        )
    };
    let params = f
        .params()
        .map(|(n, t)| (n.to_owned(), type_text(&t, &name_of)))
        .collect();
    let results = f.results().map(|t| type_text(&t, &name_of)).collect();
    (params, results)
}

/// Where `export` (of `target`) fails to serve `import` (of `importer`): the first function,
/// parameter or type that differs; `None` when it fits.
pub fn first_difference(
    engine: &Engine,
    import: &ComponentInstance,
    export: &ComponentInstance,
    importer: &str,
    target: &str,
) -> Option<String> {
    let ours = resources(engine, import);
    let theirs = resources(engine, export);
    for (name, item) in import.exports(engine) {
        let other = export.get_export(engine, name).map(|e| e.ty);
        let item = item.ty;
        match (&item, other) {
            (ComponentItem::ComponentFunc(_) | ComponentItem::Resource(_), None) => {
                let kind = if matches!(item, ComponentItem::Resource(_)) {
                    "resource"
                } else {
                    "function"
                };
                return Some(format!(
                    "{target} has no {kind} `{name}` that {importer} uses"
                ));
            }
            (ComponentItem::Resource(_), Some(ComponentItem::Resource(_))) => {}
            (ComponentItem::ComponentFunc(a), Some(ComponentItem::ComponentFunc(b))) => {
                if let Some(d) = func_difference(a, &b, &ours, &theirs, importer, target) {
                    return Some(format!("function `{name}`, {d}"));
                }
            }
            (ComponentItem::ComponentFunc(_) | ComponentItem::Resource(_), Some(_)) => {
                return Some(format!("`{name}` is a different kind of item in {target}"));
            }
            // Type definitions are compared where functions use them.
            _ => {}
        }
    }
    None
}

fn func_difference(
    a: &ComponentFunc,
    b: &ComponentFunc,
    ours: &[(ResourceType, String)],
    theirs: &[(ResourceType, String)],
    importer: &str,
    target: &str,
) -> Option<String> {
    if a.async_() != b.async_() {
        let kind = |x: bool| if x { "async" } else { "sync" };
        return Some(format!(
            "{importer} imports it as {} but {target} exports it as {}",
            kind(a.async_()),
            kind(b.async_())
        ));
    }
    let (pa, ra) = func_text(a, ours);
    let (pb, rb) = func_text(b, theirs);
    if pa.len() != pb.len() {
        return Some(format!(
            "parameters: {importer} passes {} but {target} takes {}",
            pa.len(),
            pb.len()
        ));
    }
    for ((na, ta), (nb, tb)) in pa.iter().zip(&pb) {
        if na != nb {
            return Some(format!("parameter `{na}`: {target} calls it `{nb}`"));
        }
        if ta != tb {
            return Some(format!(
                "parameter `{na}`: {importer} passes {ta} but {target} takes {tb}"
            ));
        }
    }
    if ra != rb {
        let show = |r: &[String]| {
            if r.is_empty() {
                "nothing".to_owned()
            } else {
                r.join(", ")
            }
        };
        return Some(format!(
            "result: {importer} expects {} but {target} returns {}",
            show(&ra),
            show(&rb)
        ));
    }
    None
}
