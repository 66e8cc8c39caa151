//! The manifest's shape; unknown keys are errors.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::{ComponentName, DirMode, EnvGrant, InterfaceName, OutboundRule, Route, SocketRule};

/// A whole `wasmhub.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `[app]`.
    pub app: AppSection,
    /// `[component.NAME]` tables, by name.
    #[serde(default)]
    pub component: BTreeMap<ComponentName, ComponentSection>,
    /// `[keyvalue.LABEL]` tables: each store's limits.
    #[serde(default)]
    pub keyvalue: BTreeMap<Spanned<crate::StoreLabel>, Spanned<crate::StoreSection>>,
    /// The directory relative paths are resolved against (the manifest's own).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The manifest file.
    #[serde(skip)]
    pub path: PathBuf,
    /// Its text, for turning spans into lines.
    #[serde(skip)]
    pub text: String,
}

impl Manifest {
    /// The components in the order the file declares them.
    pub fn in_file_order(&self) -> Vec<(&ComponentName, &ComponentSection)> {
        let mut all: Vec<_> = self.component.iter().collect();
        all.sort_by_key(|(_, c)| c.source.span().start);
        all
    }

    /// `wasmhub.toml:12`: where byte `offset` of the manifest sits.
    pub fn location(&self, offset: usize) -> String {
        format!(
            "{}:{}",
            self.path.display(),
            crate::error::line_of(&self.text, offset)
        )
    }
}

/// `[app]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    /// The app's name, for logs and metrics.
    pub name: ComponentName,
    /// `strict = true` refuses, before running, any component that imports files, sockets
    /// or outbound HTTP it is not granted (default: such calls are denied while running).
    #[serde(default)]
    pub strict: Option<Spanned<bool>>,
    /// `isolation = "in-process" | "process"`: where components run unless they say.
    #[serde(default)]
    pub isolation: Option<Spanned<crate::Isolation>>,
}

/// `[component.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSection {
    /// Path of the `.wasm`, relative to the manifest.
    pub source: Spanned<String>,
    /// Where `serve` routes requests to it; none means it is not served.
    #[serde(default)]
    pub route: Option<Spanned<Route>>,
    /// `wasi = "0.3"` opts into WASI 0.3 (native async); default "0.2".
    #[serde(default)]
    pub wasi: Option<Spanned<crate::WasiVersion>>,
    /// `reuse = N` lets one instance serve up to N requests (state carries between them);
    /// default 1: a fresh instance per request.
    #[serde(default)]
    pub reuse: Option<Spanned<crate::Reuse>>,
    /// `strict = true | false` for this component, over `[app]`'s.
    #[serde(default)]
    pub strict: Option<Spanned<bool>>,
    /// `isolation = "in-process" | "process"` for this component, over `[app]`'s.
    #[serde(default)]
    pub isolation: Option<Spanned<crate::Isolation>>,
    /// `tenant = "NAME"`: components of one tenant share its worker processes
    /// (default: its own name; components joined by links and no `tenant` share one).
    #[serde(default)]
    pub tenant: Option<Spanned<ComponentName>>,
    /// `[component.NAME.grant]`: what it may touch.
    #[serde(default)]
    pub grant: GrantSection,
    /// `[component.NAME.budget]`: how much it may use.
    #[serde(default)]
    pub budget: crate::BudgetSection,
    /// `[component.NAME.link]`: `"acme:pricing/calc" = "pricing"` serves that import from
    /// component `pricing`'s export of the same interface, in process.
    #[serde(default)]
    pub link: BTreeMap<Spanned<InterfaceName>, Spanned<ComponentName>>,
    /// `[component.NAME.build]`: how `wasmhub build` makes `source`.
    #[serde(default)]
    pub build: Option<crate::BuildSection>,
}

/// `[component.NAME.grant]`; everything absent is denied.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSection {
    /// `env = ["NAME=VALUE", "INHERITED"]`.
    #[serde(default)]
    pub env: Vec<Spanned<EnvGrant>>,
    /// `files = [{ host = "data", guest = "/data", mode = "ro" }]`.
    #[serde(default)]
    pub files: Vec<FileGrantEntry>,
    /// `outbound = ["https://api.example.com"]`: allowed outgoing HTTP destinations.
    #[serde(default)]
    pub outbound: Vec<Spanned<OutboundRule>>,
    /// `sockets = { connect = ["tcp://127.0.0.1:5432"], bind = [...] }`.
    #[serde(default)]
    pub sockets: SocketsGrant,
    /// `stdio = false` refuses components that import stdin/stdout/stderr (default: granted).
    #[serde(default)]
    pub stdio: Option<Spanned<bool>>,
    /// `clocks = false` refuses components that import clocks (default: granted).
    #[serde(default)]
    pub clocks: Option<Spanned<bool>>,
    /// `random = false` refuses components that import random (default: granted).
    #[serde(default)]
    pub random: Option<Spanned<bool>>,
    /// `keyvalue = ["default"]`: the app's key-value stores it may open, by label.
    #[serde(default)]
    pub keyvalue: Vec<Spanned<crate::StoreLabel>>,
    /// `config = { key = "value", token = { env = "NAME", secret = true } }`.
    #[serde(default)]
    pub config: BTreeMap<Spanned<String>, Spanned<crate::ConfigValue>>,
}

/// `sockets = { connect = [...], bind = [...] }`; nothing is reachable unless listed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketsGrant {
    /// Remote addresses the component may connect (TCP) or send to (UDP).
    #[serde(default)]
    pub connect: Vec<Spanned<SocketRule>>,
    /// Local addresses the component may bind and listen on.
    #[serde(default)]
    pub bind: Vec<Spanned<SocketRule>>,
}

/// One directory in `files`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGrantEntry {
    /// Host directory, relative to the manifest.
    pub host: Spanned<String>,
    /// Path the guest sees.
    pub guest: String,
    /// `ro` or `rw` (default `ro`).
    #[serde(default = "read_only")]
    pub mode: DirMode,
}

fn read_only() -> DirMode {
    DirMode::ReadOnly
}
