//! The parts of `spin.toml` (manifest version 2) wasmhub reads, typed; [`crate::keys`] has
//! already refused what it does not read.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole `spin.toml`.
#[derive(Debug, Deserialize)]
pub(crate) struct SpinManifest {
    pub spin_manifest_version: Spanned<toml::Value>,
    pub application: Application,
    #[serde(default)]
    pub variables: BTreeMap<Spanned<String>, Spanned<Variable>>,
    #[serde(default)]
    pub trigger: Triggers,
    #[serde(default)]
    pub component: BTreeMap<Spanned<String>, Spanned<Component>>,
}

/// `[application]`.
#[derive(Debug, Deserialize)]
pub(crate) struct Application {
    pub name: Spanned<String>,
}

/// `[variables]`: `name = { default = "x" }`, `{ required = true }`, `secret = true`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Variable {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    #[allow(dead_code)]
    pub description: Option<String>,
}

/// `[trigger]`: only `http` is read.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Triggers {
    #[serde(default)]
    pub http: Vec<Spanned<HttpTrigger>>,
}

/// One `[[trigger.http]]`.
#[derive(Debug, Deserialize)]
pub(crate) struct HttpTrigger {
    /// `"/path"`, `"/x/..."`, `"/users/:id"`, or `{ private = true }`.
    pub route: Spanned<toml::Value>,
    /// The component's name (an inline table is refused).
    pub component: Spanned<toml::Value>,
    #[serde(default)]
    pub executor: Option<Spanned<toml::Value>>,
}

/// `[component.NAME]`.
#[derive(Debug, Deserialize)]
pub(crate) struct Component {
    pub source: Spanned<toml::Value>,
    #[serde(default)]
    pub variables: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub environment: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub files: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<Spanned<String>>,
    #[serde(default)]
    pub key_value_stores: Vec<Spanned<String>>,
    #[serde(default)]
    pub dependencies: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}
