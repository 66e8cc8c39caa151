//! `[variables]`: each application variable's value, from `SPIN_VARIABLE_NAME` in
//! wasmhub's environment (Spin's environment provider) or its default.

use std::collections::BTreeMap;

use crate::Locator;
use crate::schema::SpinManifest;
use crate::template::Resolved;
use wasmhub_manifest::ManifestError;

/// The environment variable that sets application variable `name`: `SPIN_VARIABLE_NAME`.
pub fn env_name(name: &str) -> String {
    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())
}

/// Every application variable's value.
pub(crate) fn resolve(
    m: &SpinManifest,
    at: &Locator<'_>,
) -> Result<BTreeMap<String, Resolved>, ManifestError> {
    let mut out = BTreeMap::new();
    for (name, var) in &m.variables {
        let (key, v) = (name.get_ref(), var.get_ref());
        let offset = name.span().start;
        if let Some(why) = wasmhub_app::spin_variable_name_error(key) {
            return Err(at.invalid(offset, &format!("invalid variable name {why}")));
        }
        if v.required && v.default.is_some() {
            return Err(at.invalid(
                offset,
                &format!(
                    "variable {key:?} is required and has a default; keep one of \
                     `required = true` and `default`"
                ),
            ));
        }
        let env = env_name(key);
        let value = match (std::env::var(&env), &v.default) {
            (Ok(value), _) => value,
            (Err(_), Some(d)) => d.clone(),
            (Err(_), None) if v.required => {
                return Err(at.invalid(
                    offset,
                    &format!(
                        "variable {key:?} is required and has no value: set {env} in \
                         wasmhub's environment"
                    ),
                ));
            }
            (Err(_), None) => {
                return Err(at.invalid(
                    offset,
                    &format!(
                        "variable {key:?} has neither a default nor `required = true`; give \
                         it one"
                    ),
                ));
            }
        };
        out.insert(
            key.clone(),
            Resolved {
                value,
                secret: v.secret,
            },
        );
    }
    Ok(out)
}
