//! Link keys: the WIT interface an import names (`acme:pricing/calc`, optionally `@1.2.0`).

use std::fmt;

/// `namespace:package/interface`, with an optional `@version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct InterfaceName(String);

impl TryFrom<String> for InterfaceName {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let (path, version) = s.split_once('@').unwrap_or((&s, ""));
        let word = |w: &str| {
            !w.is_empty()
                && w.split('-')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
        };
        let ok = path.split_once(':').is_some_and(|(ns, rest)| {
            word(ns)
                && rest
                    .split_once('/')
                    .is_some_and(|(pkg, iface)| word(pkg) && word(iface))
        }) && (!s.contains('@') || !version.is_empty());
        if ok {
            Ok(Self(s))
        } else {
            Err(format!(
                "invalid link key `{s}`: name the imported interface as namespace:package/interface \
                 (like \"acme:pricing/calc\", optionally with @VERSION)"
            ))
        }
    }
}

impl InterfaceName {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether an import or export named `full` (with or without a version) is this interface.
    pub fn matches(&self, full: &str) -> bool {
        full == self.0 || (!self.0.contains('@') && full.split('@').next() == Some(&self.0))
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_match_with_or_without_version() {
        let k = InterfaceName::try_from("acme:pricing/calc".to_owned()).unwrap();
        assert!(k.matches("acme:pricing/calc@0.1.0"));
        assert!(k.matches("acme:pricing/calc"));
        assert!(!k.matches("acme:pricing/calcx@0.1.0"));
        let v = InterfaceName::try_from("acme:pricing/calc@0.1.0".to_owned()).unwrap();
        assert!(v.matches("acme:pricing/calc@0.1.0"));
        assert!(!v.matches("acme:pricing/calc@0.2.0"));
        for bad in [
            "calc",
            "acme:calc",
            "acme/calc",
            "acme:pricing/calc@",
            ":p/i",
        ] {
            let e = InterfaceName::try_from(bad.to_owned()).unwrap_err();
            assert!(e.contains("namespace:package/interface"), "{e}");
        }
    }
}
