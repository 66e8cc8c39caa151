//! Spin's `{{ variable }}` templates, resolved against the app's `[variables]`.

use std::collections::BTreeMap;

/// One application variable's resolved value, and whether it is a secret.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub value: String,
    pub secret: bool,
}

/// `template` with every `{{ name }}` replaced; whether any was a secret; or why not.
pub(crate) fn expand(
    template: &str,
    vars: &BTreeMap<String, Resolved>,
) -> Result<(String, bool), String> {
    let mut out = String::new();
    let mut secret = false;
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("template {template:?} has `{{{{` without `}}}}`"))?;
        let name = after[..end].trim();
        let v = vars.get(name).ok_or_else(|| {
            format!(
                "template {template:?} names variable {name:?}, which [variables] does not \
                 declare; declare it there with a default or required = true"
            )
        })?;
        out.push_str(&v.value);
        secret |= v.secret;
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok((out, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand() {
        let mut vars = BTreeMap::new();
        let v = |value: &str, secret| Resolved {
            value: value.into(),
            secret,
        };
        vars.insert("host".to_owned(), v("127.0.0.1:80", false));
        vars.insert("token".to_owned(), v("s3", true));
        assert_eq!(
            expand("http://{{ host }}", &vars).unwrap(),
            ("http://127.0.0.1:80".into(), false)
        );
        assert_eq!(expand("a{{token}}b", &vars).unwrap(), ("as3b".into(), true));
        assert!(
            expand("{{ nope }}", &vars)
                .unwrap_err()
                .contains("\"nope\"")
        );
        assert!(expand("{{ host", &vars).is_err());
    }
}
