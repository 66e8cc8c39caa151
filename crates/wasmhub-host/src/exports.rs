//! The functions a component exports, and finding one by the name a user typed.

use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, ComponentExportIndex};

use crate::func_signature;

/// One exported function, at the world root or inside an exported interface.
#[derive(Clone)]
pub struct ExportedFunc {
    /// The exported interface (`wasmhub:demo/greeter`), or `None` at the root.
    pub interface: Option<String>,
    /// The function's name.
    pub name: String,
    /// Its type.
    pub ty: ComponentFunc,
    /// Where to find it in an instance.
    pub index: ComponentExportIndex,
}

impl ExportedFunc {
    /// `iface#name`, or `name` at the root: the name that always finds this function.
    pub fn qualified(&self) -> String {
        match &self.interface {
            Some(i) => format!("{i}#{}", self.name),
            None => self.name.clone(),
        }
    }

    /// `greeter.name`: the interface's short name and the function.
    fn short(&self) -> Option<String> {
        let iface = self.interface.as_deref()?;
        let short = iface.rsplit('/').next()?.split('@').next()?;
        Some(format!("{short}.{}", self.name))
    }

    /// `qualified: func(...) -> ...`.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.qualified(), func_signature(&self.ty))
    }
}

/// Every function the component exports, root first, in export order.
pub fn exported_funcs(engine: &Engine, component: &Component) -> Vec<ExportedFunc> {
    let mut out = Vec::new();
    for (name, item) in component.component_type().exports(engine) {
        match item.ty {
            ComponentItem::ComponentFunc(ty) => {
                if let Some(index) = component.get_export_index(None, name) {
                    out.push(ExportedFunc {
                        interface: None,
                        name: name.to_owned(),
                        ty,
                        index,
                    });
                }
            }
            ComponentItem::ComponentInstance(inst) => {
                let Some(parent) = component.get_export_index(None, name) else {
                    continue;
                };
                for (fname, fitem) in inst.exports(engine) {
                    if let ComponentItem::ComponentFunc(ty) = fitem.ty
                        && let Some(index) = component.get_export_index(Some(&parent), fname)
                    {
                        out.push(ExportedFunc {
                            interface: Some(name.to_owned()),
                            name: fname.to_owned(),
                            ty,
                            index,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Why a name did not pick exactly one export.
#[derive(Debug, thiserror::Error)]
pub enum FuncLookupError {
    /// Nothing matches.
    #[error("the component exports no function `{name}`; {}", list_exports(.exports))]
    Unknown {
        /// The name asked for.
        name: String,
        /// What it does export, described.
        exports: Vec<String>,
    },
    /// Several interfaces export it.
    #[error("`{name}` is ambiguous: it is exported as {}; call one of those names", .candidates.join(" and "))]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// The qualified names it matches.
        candidates: Vec<String>,
    },
}

fn list_exports(exports: &[String]) -> String {
    if exports.is_empty() {
        "it exports no functions at all".into()
    } else {
        format!("it exports:\n  {}", exports.join("\n  "))
    }
}

/// Finds `name`: `iface#func`, `short.func`, or a bare `func` (root first, then a unique interface).
pub fn find_func<'a>(
    funcs: &'a [ExportedFunc],
    name: &str,
) -> Result<&'a ExportedFunc, FuncLookupError> {
    let matches: Vec<&ExportedFunc> = if let Some((iface, func)) = name.split_once('#') {
        funcs
            .iter()
            .filter(|f| {
                f.name == func
                    && f.interface
                        .as_deref()
                        .is_some_and(|i| i == iface || i.split('@').next() == Some(iface))
            })
            .collect()
    } else if name.contains('.') {
        funcs
            .iter()
            .filter(|f| f.short().as_deref() == Some(name))
            .collect()
    } else if let Some(root) = funcs
        .iter()
        .find(|f| f.interface.is_none() && f.name == name)
    {
        vec![root]
    } else {
        funcs.iter().filter(|f| f.name == name).collect()
    };
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(FuncLookupError::Unknown {
            name: name.to_owned(),
            exports: funcs.iter().map(ExportedFunc::describe).collect(),
        }),
        many => Err(FuncLookupError::Ambiguous {
            name: name.to_owned(),
            candidates: many.iter().map(|f| f.qualified()).collect(),
        }),
    }
}
