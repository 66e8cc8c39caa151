//! State and configuration grants: key-value store labels, store limits, config values.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::ByteSize;

/// A key-value store's label as an operator grants it: `default`, `sessions`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct StoreLabel(String);

impl TryFrom<String> for StoreLabel {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(Self(s))
        } else {
            Err(format!(
                "invalid key-value store label {s:?}: use 1 to 64 letters, digits, `-`, `_` and \
                 `.`, starting with a letter or digit (like \"default\" or \"sessions\")"
            ))
        }
    }
}

impl std::str::FromStr for StoreLabel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.to_owned().try_into()
    }
}

impl StoreLabel {
    /// The label as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StoreLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[keyvalue.LABEL]`: the limits of one store; absent keys keep the defaults.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StoreSection {
    /// Most keys the store may hold.
    pub keys: Option<u64>,
    /// Most bytes the store may hold, keys plus values.
    pub size: Option<ByteSize>,
    /// Longest key.
    pub key_size: Option<ByteSize>,
    /// Largest value.
    pub value_size: Option<ByteSize>,
}

/// Where one configuration value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Written in the manifest or on the command line.
    Value(String),
    /// The host's environment variable of this name, read at start.
    Env(String),
    /// This file's contents (one trailing newline dropped), read at start.
    File(String),
}

/// One configuration value: its source, and whether it is a secret (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigValue {
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether it is a secret.
    pub secret: bool,
}

impl fmt::Debug for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.source, self.secret) {
            (ConfigSource::Value(_), true) => f.write_str("ConfigValue(<secret>)"),
            (source, secret) => f
                .debug_struct("ConfigValue")
                .field("source", source)
                .field("secret", &secret)
                .finish(),
        }
    }
}

impl fmt::Display for ConfigValue {
    /// How `check` shows it: the value, `env NAME`, `file PATH`; a secret's value never.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            ConfigSource::Value(_) if self.secret => return f.write_str("<secret>"),
            ConfigSource::Value(v) => write!(f, "{v:?}")?,
            ConfigSource::Env(name) => write!(f, "env {name}")?,
            ConfigSource::File(path) => write!(f, "file {path}")?,
        }
        if self.secret {
            f.write_str(" (<secret>)")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for ConfigValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const SHAPE: &str = "a string, or a table with `env = \"NAME\"` or `file = \"PATH\"` \
                             and optionally `secret = true`";
        impl<'de> Visitor<'de> for V {
            type Value = ConfigValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SHAPE)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ConfigValue, E> {
                Ok(ConfigValue {
                    source: ConfigSource::Value(v.to_owned()),
                    secret: false,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ConfigValue, A::Error> {
                let (mut source, mut secret, mut value) = (None, false, None);
                while let Some(key) = map.next_key::<String>()? {
                    let from = match key.as_str() {
                        "env" => ConfigSource::Env(map.next_value()?),
                        "file" => ConfigSource::File(map.next_value()?),
                        "value" => {
                            value = Some(map.next_value::<String>()?);
                            continue;
                        }
                        "secret" => {
                            secret = map.next_value()?;
                            continue;
                        }
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown key `{other}` in a config value: expected {SHAPE}"
                            )));
                        }
                    };
                    if source.replace(from).is_some() {
                        return Err(de::Error::custom(format!(
                            "a config value has one source: expected {SHAPE}"
                        )));
                    }
                }
                let source = match (source, value) {
                    (Some(s), None) => s,
                    (None, Some(v)) => ConfigSource::Value(v),
                    _ => {
                        return Err(de::Error::custom(format!(
                            "a config value has exactly one source: expected {SHAPE} (or \
                             `value = \"...\"`)"
                        )));
                    }
                };
                Ok(ConfigValue { source, secret })
            }
        }
        d.deserialize_any(V)
    }
}

impl ConfigValue {
    /// Parses a `--config-secret` value: `env:NAME` or `file:PATH`.
    pub fn secret_flag(s: &str) -> Result<Self, String> {
        let source = match s.split_once(':') {
            Some(("env", name)) if !name.is_empty() => ConfigSource::Env(name.to_owned()),
            Some(("file", path)) if !path.is_empty() => ConfigSource::File(path.to_owned()),
            _ => {
                return Err(format!(
                    "invalid secret source `{s}`: write env:NAME (an environment variable) or \
                     file:PATH (a file readable only by its owner)"
                ));
            }
        };
        Ok(Self {
            source,
            secret: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_plain_names() {
        for ok in ["default", "sessions", "a.b-c_d", "0"] {
            assert!(StoreLabel::try_from(ok.to_owned()).is_ok(), "{ok}");
        }
        for bad in ["", "..", ".x", "a/b", "a\0", "with space", &"x".repeat(65)] {
            let err = StoreLabel::try_from(bad.to_owned()).unwrap_err();
            assert!(err.contains("invalid key-value store label"), "{err}");
        }
    }

    #[test]
    fn config_values_parse() {
        #[derive(Deserialize)]
        struct T {
            c: std::collections::BTreeMap<String, ConfigValue>,
        }
        let t: T = toml::from_str(
            r#"c = { a = "x", b = { env = "TOKEN", secret = true }, d = { file = "/s" } }"#,
        )
        .unwrap();
        assert_eq!(t.c["a"].source, ConfigSource::Value("x".into()));
        assert!(t.c["b"].secret);
        assert_eq!(t.c["b"].source, ConfigSource::Env("TOKEN".into()));
        assert_eq!(t.c["d"].source, ConfigSource::File("/s".into()));
        assert!(!t.c["d"].secret);
        let bad = toml::from_str::<T>(r#"c = { a = { env = "A", file = "B" } }"#);
        assert!(bad.is_err());
        assert!(ConfigValue::secret_flag("env:T").unwrap().secret);
        assert!(ConfigValue::secret_flag("T").is_err());
    }
}
