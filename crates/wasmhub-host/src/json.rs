//! Component values as JSON, for `--json` output.

use serde_json::{Map, Value, json};
use wasmtime::component::Val;

/// Converts a value: records to objects, variants to `{case: payload}`, flags to name arrays.
pub fn val_to_json(val: &Val) -> Value {
    match val {
        Val::Bool(b) => json!(b),
        Val::S8(n) => json!(n),
        Val::U8(n) => json!(n),
        Val::S16(n) => json!(n),
        Val::U16(n) => json!(n),
        Val::S32(n) => json!(n),
        Val::U32(n) => json!(n),
        Val::S64(n) => json!(n),
        Val::U64(n) => json!(n),
        Val::Float32(f) => float(f64::from(*f)),
        Val::Float64(f) => float(*f),
        Val::Char(c) => json!(c.to_string()),
        Val::String(s) => json!(s),
        Val::List(items) | Val::Tuple(items) => {
            Value::Array(items.iter().map(val_to_json).collect())
        }
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), val_to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Val::Variant(case, payload) => {
            json!({ case.as_str(): payload.as_deref().map_or(Value::Null, val_to_json) })
        }
        Val::Enum(case) => json!(case),
        Val::Option(v) => v.as_deref().map_or(Value::Null, val_to_json),
        Val::Result(Ok(v)) => json!({ "ok": v.as_deref().map_or(Value::Null, val_to_json) }),
        Val::Result(Err(v)) => json!({ "err": v.as_deref().map_or(Value::Null, val_to_json) }),
        Val::Flags(names) => json!(names),
        other => json!(format!("{other:?}")),
    }
}

/// JSON has no NaN or infinities: those become strings, as WAVE writes them.
fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or_else(
        || {
            json!(if f.is_nan() {
                "nan"
            } else if f > 0.0 {
                "inf"
            } else {
                "-inf"
            })
        },
        Value::Number,
    )
}
