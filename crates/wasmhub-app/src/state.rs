//! Grants of state and configuration: the key-value stores a component may open, and its
//! configuration values.

pub use wasmhub_manifest::{ConfigSource, ConfigValue, StoreLabel};

/// The limits one store was given (`[keyvalue.LABEL]`); `None` keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreLimits {
    /// Most keys.
    pub keys: Option<u64>,
    /// Most bytes, keys plus values.
    pub size: Option<u64>,
    /// Longest key, bytes.
    pub key_size: Option<u64>,
    /// Largest value, bytes.
    pub value_size: Option<u64>,
}

impl StoreLimits {
    /// The limits a `[keyvalue.LABEL]` table gives.
    pub fn from_section(s: &wasmhub_manifest::StoreSection) -> Self {
        Self {
            keys: s.keys,
            size: s.size.map(|b| b.0),
            key_size: s.key_size.map(|b| b.0),
            value_size: s.value_size.map(|b| b.0),
        }
    }
}

/// One key-value store a component may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreGrant {
    /// Its label; components of one app granted the same label share the store.
    pub label: StoreLabel,
    /// Its limits.
    pub limits: StoreLimits,
}

/// One configuration key and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigGrant {
    /// The key the guest asks for.
    pub key: String,
    /// The value's source; a secret's value is never printed.
    pub value: ConfigValue,
}
