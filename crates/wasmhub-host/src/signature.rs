//! WIT-like text for component types, for error messages and export listings.

use wasmtime::component::types::ComponentFunc;
use wasmtime::component::{ResourceType, Type};

/// `func(name: string) -> string`, with structural types spelled out.
pub fn func_signature(ty: &ComponentFunc) -> String {
    let params: Vec<String> = ty
        .params()
        .map(|(name, t)| format!("{name}: {}", type_name(&t)))
        .collect();
    let mut out = format!("func({})", params.join(", "));
    let results: Vec<String> = ty.results().map(|t| type_name(&t)).collect();
    if !results.is_empty() {
        out.push_str(" -> ");
        out.push_str(&results.join(", "));
    }
    out
}

/// A type as WIT-like text: `list<u32>`, `record { x: s32, y: s32 }`, ...
pub fn type_name(ty: &Type) -> String {
    type_text(ty, &|_| "resource".into())
}

/// Like [`type_name`], with resources named by `resource` (`own<basket>`).
pub fn type_text(ty: &Type, resource: &dyn Fn(&ResourceType) -> String) -> String {
    let type_name = |t: &Type| type_text(t, resource);
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", type_name(&l.ty())),
        Type::Record(r) => {
            let fields: Vec<String> = r
                .fields()
                .map(|f| format!("{}: {}", f.name, type_name(&f.ty)))
                .collect();
            format!("record {{ {} }}", fields.join(", "))
        }
        Type::Tuple(t) => {
            let types: Vec<String> = t.types().map(|t| type_name(&t)).collect();
            format!("tuple<{}>", types.join(", "))
        }
        Type::Variant(v) => {
            let cases: Vec<String> = v
                .cases()
                .map(|c| match c.ty {
                    Some(t) => format!("{}({})", c.name, type_name(&t)),
                    None => c.name.to_string(),
                })
                .collect();
            format!("variant {{ {} }}", cases.join(", "))
        }
        Type::Enum(e) => format!("enum {{ {} }}", e.names().collect::<Vec<_>>().join(", ")),
        Type::Option(o) => format!("option<{}>", type_name(&o.ty())),
        Type::Result(r) => match (r.ok(), r.err()) {
            (None, None) => "result".into(),
            (Some(ok), None) => format!("result<{}>", type_name(&ok)),
            (None, Some(err)) => format!("result<_, {}>", type_name(&err)),
            (Some(ok), Some(err)) => format!("result<{}, {}>", type_name(&ok), type_name(&err)),
        },
        Type::Flags(f) => format!("flags {{ {} }}", f.names().collect::<Vec<_>>().join(", ")),
        Type::Own(r) => format!("own<{}>", resource(r)),
        Type::Borrow(r) => format!("borrow<{}>", resource(r)),
        other => format!("{other:?}").to_lowercase(),
    }
}
