//! Deciding, before instantiation, whether a component's imports are covered by its grants.

use std::collections::BTreeMap;

use wasmhub_app::{GrantSite, Granted, Grants, describe_dir, describe_env};

use crate::{Capability, classify_import};

/// The result of holding a component's imports against its grants.
#[derive(Debug, Clone)]
pub struct Audit {
    /// Its imports, grouped by the capability each implies.
    pub needs: BTreeMap<Capability, Vec<String>>,
    /// Imports it may not hold at all: each one stops it from running (a denied stdio,
    /// clocks or random; and, in strict mode, any capability it is not granted).
    pub refusals: Vec<Refusal>,
    /// Imports it is not granted, linked anyway: every call to them is denied.
    pub denied_at_call: Vec<Refusal>,
    /// Grants it never uses.
    pub unused: Vec<String>,
}

/// A capability the component imports but is not granted.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The capability.
    pub capability: Capability,
    /// The imports that need it.
    pub imports: Vec<String>,
    /// What is wrong and the exact grant that fixes it.
    pub message: String,
}

/// The refusals of a component that may not run, one per line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join("\n"))]
pub struct NotGranted(pub Vec<Refusal>);

impl Audit {
    /// Holds `imports` against `grants`.
    pub fn new<'a>(imports: impl IntoIterator<Item = &'a str>, grants: &Grants) -> Self {
        let mut needs: BTreeMap<Capability, Vec<String>> = BTreeMap::new();
        for name in imports {
            needs
                .entry(classify_import(name).capability)
                .or_default()
                .push(name.to_owned());
        }
        let mut refusals = Vec::new();
        let mut denied_at_call = Vec::new();
        for (cap, imports) in &needs {
            if let Some((message, at_call)) = refusal(*cap, imports, grants) {
                let r = Refusal {
                    capability: *cap,
                    imports: imports.clone(),
                    message,
                };
                if at_call && !grants.strict.value {
                    denied_at_call.push(r);
                } else {
                    refusals.push(r);
                }
            }
        }
        let unused = unused(&needs, grants);
        Self {
            needs,
            refusals,
            denied_at_call,
            unused,
        }
    }

    /// The line `check` prints for an imported but ungranted capability: calls will be
    /// denied, and the grant that would allow them.
    pub fn will_be_denied(refusal: &Refusal) -> String {
        match refusal.message.split_once(": add ") {
            Some((what, fix)) => format!("{what}: calls will be denied; to allow them, add {fix}"),
            None => refusal.message.clone(),
        }
    }

    /// Ok when nothing is refused; otherwise every refusal.
    pub fn verdict(&self) -> Result<(), NotGranted> {
        if self.refusals.is_empty() {
            Ok(())
        } else {
            Err(NotGranted(self.refusals.clone()))
        }
    }
}

/// The exact grant to add: `manifest` (a `wasmhub.toml` grant) where the grants were written,
/// as the `spin.toml` key for a Spin app's component, or `flag` on the command line.
pub(crate) fn how_to_grant(site: &GrantSite, manifest: &str, flag: &str) -> String {
    match site {
        GrantSite::Manifest { component, at } => {
            format!("add {manifest} under [component.{component}.grant] ({at})")
        }
        GrantSite::Spin { component, at } => match spin_key(manifest) {
            Some(spin) => format!("add {spin} under [component.{component}] ({at})"),
            None => format!(
                "serve the component from a wasmhub.toml with {manifest} under \
                 [component.{component}.grant]: a spin.toml has no key for it ({at})"
            ),
        },
        GrantSite::Flags => format!("add {flag}"),
    }
}

/// The `spin.toml` form of a `wasmhub.toml` grant (`outbound = [...]` is
/// `allowed_outbound_hosts = [...]`), if Spin has one.
fn spin_key(manifest: &str) -> Option<String> {
    let (key, value) = manifest.split_once(" = ")?;
    let spin = match key {
        "outbound" => "allowed_outbound_hosts",
        "keyvalue" => "key_value_stores",
        "config" => {
            // Spin's variable names are lowercase.
            let value = value
                .replace("KEY", "name")
                .replace("\"VALUE\"", "\"value\"");
            return Some(format!("variables = {value}"));
        }
        "env" => "environment",
        "files" => {
            let value = value
                .replace("host = ", "source = ")
                .replace("guest = ", "destination = ");
            return Some(format!("files = {value}"));
        }
        _ => return None,
    };
    Some(format!("{spin} = {value}"))
}

/// What is wrong with importing `imports` under `grants`, and whether calls can be denied
/// one by one (`true`) rather than the import being refused outright.
fn refusal(cap: Capability, imports: &[String], grants: &Grants) -> Option<(String, bool)> {
    let who = grants.site.subject();
    let what = crate::compact_imports(imports);
    let site = &grants.site;
    let missing = |none: &str, manifest: &str, flag: &str| {
        Some((
            format!(
                "{who} imports {what} but is granted no {none}: {}",
                how_to_grant(site, manifest, flag)
            ),
            true,
        ))
    };
    let denied = |g: &Granted<bool>, name: &str| {
        (!g.value).then(|| {
            let message = format!(
                "{who} imports {what} but {name} {} denied ({}): a component that runs without \
                 {name} must not import them; remove that denial, or build the component without \
                 {name}",
                if name.ends_with('s') { "are" } else { "is" },
                g.origin
            );
            (message, false)
        })
    };
    match cap {
        Capability::Files if grants.dirs.is_empty() => missing(
            "files",
            "files = [{ host = \"...\", guest = \"/...\" }]",
            "--dir HOST::GUEST[:ro]",
        ),
        Capability::Sockets if grants.connect.is_empty() && grants.bind.is_empty() => missing(
            "sockets",
            "sockets = { connect = [\"tcp://HOST:PORT\"] }",
            "--connect tcp://HOST:PORT (or --bind tcp://HOST:PORT to listen)",
        ),
        Capability::OutboundHttp if grants.outbound.is_empty() => missing(
            "outbound hosts",
            "outbound = [\"https://HOST\"]",
            "--outbound https://HOST",
        ),
        Capability::KeyValue if grants.keyvalue.is_empty() => missing(
            "key-value stores",
            "keyvalue = [\"default\"]",
            "--keyvalue default",
        ),
        Capability::Config if grants.config.is_empty() => missing(
            "config",
            "config = { KEY = \"VALUE\" }",
            "--config KEY=VALUE",
        ),
        Capability::Stdio => denied(&grants.stdio, "stdio"),
        Capability::Clocks => denied(&grants.clocks, "clocks"),
        Capability::Random => denied(&grants.random, "random"),
        _ => None,
    }
}

fn unused(needs: &BTreeMap<Capability, Vec<String>>, grants: &Grants) -> Vec<String> {
    let mut out = Vec::new();
    let imports = |c: Capability| needs.contains_key(&c);
    let mut warn = |what: String, origin: &wasmhub_app::Origin, why: &str| {
        out.push(format!(
            "{what} is granted ({origin}) but {why}: the grant has no effect"
        ));
    };
    let no_import = |iface: &str| format!("the component does not import {iface}");
    for e in &grants.env {
        if !imports(Capability::Env) {
            let env = describe_env(&e.value);
            warn(
                format!("env {env}"),
                &e.origin,
                &no_import("wasi:cli/environment"),
            );
        }
    }
    for d in &grants.dirs {
        if !imports(Capability::Files) {
            let dir = describe_dir(&d.value);
            warn(
                format!("files {dir}"),
                &d.origin,
                &no_import("wasi:filesystem"),
            );
        }
    }
    for o in &grants.outbound {
        if !imports(Capability::OutboundHttp) {
            warn(
                format!("outbound {}", o.value),
                &o.origin,
                &no_import("wasi:http/outgoing-handler"),
            );
        }
    }
    for k in &grants.keyvalue {
        if !imports(Capability::KeyValue) {
            let label = &k.value.label;
            warn(
                format!("keyvalue store \"{label}\""),
                &k.origin,
                &no_import("wasi:keyvalue"),
            );
        }
    }
    for c in &grants.config {
        if !imports(Capability::Config) {
            let key = &c.value.key;
            warn(
                format!("config {key:?}"),
                &c.origin,
                &no_import("wasi:config"),
            );
        }
    }
    for (kind, rules) in [("connect", &grants.connect), ("bind", &grants.bind)] {
        for r in rules {
            if !imports(Capability::Sockets) {
                warn(
                    format!("{kind} {}", r.value),
                    &r.origin,
                    &no_import("wasi:sockets"),
                );
            }
        }
    }
    out
}

/// The grant table of an audit: (capability, granted value, where it was granted).
pub fn grant_rows(grants: &Grants) -> Vec<(&'static str, String, String)> {
    let mut rows = Vec::new();
    let mut list = |cap: &'static str, items: Vec<(String, String)>| {
        if items.is_empty() {
            rows.push((cap, "none".to_owned(), "default (deny)".to_owned()));
        }
        for (value, origin) in items {
            rows.push((cap, value, origin));
        }
    };
    let env = grants
        .env
        .iter()
        .map(|e| (describe_env(&e.value), e.origin.to_string()));
    list("env", env.collect());
    let dirs = grants
        .dirs
        .iter()
        .map(|d| (describe_dir(&d.value), d.origin.to_string()));
    list("files", dirs.collect());
    let outbound = grants
        .outbound
        .iter()
        .map(|o| (o.value.to_string(), o.origin.to_string()));
    list("outbound", outbound.collect());
    let sockets = grants
        .connect
        .iter()
        .map(|r| (format!("connect {}", r.value), r.origin.to_string()))
        .chain(
            grants
                .bind
                .iter()
                .map(|r| (format!("bind {}", r.value), r.origin.to_string())),
        );
    list("sockets", sockets.collect());
    let stores = grants
        .keyvalue
        .iter()
        .map(|k| (k.value.label.to_string(), k.origin.to_string()));
    list("keyvalue", stores.collect());
    let config = grants.config.iter().map(|c| {
        (
            format!("{:?} = {}", c.value.key, c.value.value),
            c.origin.to_string(),
        )
    });
    list("config", config.collect());
    for (cap, g) in [
        ("stdio", &grants.stdio),
        ("clocks", &grants.clocks),
        ("random", &grants.random),
    ] {
        let value = if g.value { "yes" } else { "denied" };
        rows.push((cap, value.to_owned(), g.origin.to_string()));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmhub_app::Origin;

    fn manifest_grants() -> Grants {
        Grants::none(GrantSite::Manifest {
            component: "report".into(),
            at: "wasmhub.toml:14".into(),
        })
    }

    #[test]
    fn a_spin_component_is_told_the_spin_toml_key() {
        let site = GrantSite::Spin {
            component: "web".into(),
            at: "spin.toml:9".into(),
        };
        let fix = |manifest: &str| how_to_grant(&site, manifest, "--flag");
        assert_eq!(
            fix("outbound = [\"http://a:1\"]"),
            "add allowed_outbound_hosts = [\"http://a:1\"] under [component.web] (spin.toml:9)"
        );
        assert_eq!(
            fix("keyvalue = [\"sessions\"]"),
            "add key_value_stores = [\"sessions\"] under [component.web] (spin.toml:9)"
        );
        assert_eq!(
            fix("config = { KEY = \"VALUE\" }"),
            "add variables = { name = \"value\" } under [component.web] (spin.toml:9)"
        );
        assert_eq!(
            fix("files = [{ host = \"...\", guest = \"/...\" }]"),
            "add files = [{ source = \"...\", destination = \"/...\" }] under [component.web] (spin.toml:9)"
        );
        assert!(
            fix("sockets = { connect = [\"tcp://HOST:PORT\"] }")
                .contains("a spin.toml has no key for it (spin.toml:9)")
        );
    }

    #[test]
    fn deny_by_default_except_plumbing_env_and_defaults() {
        let imports = [
            "wasi:io/streams@0.2.3",
            "wasi:cli/environment@0.2.3",
            "wasi:cli/stdout@0.2.3",
            "wasi:clocks/wall-clock@0.2.3",
            "wasi:random/random@0.2.3",
            "wasi:filesystem/preopens@0.2.3",
        ];
        let audit = Audit::new(imports, &manifest_grants());
        assert!(audit.refusals.is_empty(), "denied at the call, not refused");
        assert_eq!(audit.denied_at_call.len(), 1);
        assert_eq!(
            Audit::will_be_denied(&audit.denied_at_call[0]),
            "component \"report\" imports wasi:filesystem/preopens@0.2.3 but is granted no files: \
             calls will be denied; to allow them, add files = [{ host = \"...\", guest = \"/...\" }] \
             under [component.report.grant] (wasmhub.toml:14)"
        );
        let mut strict = manifest_grants();
        strict.strict = Granted::new(true, Origin::Flag("--strict".into()));
        let audit = Audit::new(imports, &strict);
        assert!(audit.denied_at_call.is_empty());
        assert_eq!(audit.refusals.len(), 1);
        assert_eq!(
            audit.refusals[0].message,
            "component \"report\" imports wasi:filesystem/preopens@0.2.3 but is granted no files: \
             add files = [{ host = \"...\", guest = \"/...\" }] under [component.report.grant] \
             (wasmhub.toml:14)"
        );
        let mut g = manifest_grants();
        g.dirs.push(Granted::new(
            "data::/data".parse().unwrap(),
            Origin::Manifest("wasmhub.toml:16".into()),
        ));
        g.random = Granted::new(false, Origin::Manifest("wasmhub.toml:17".into()));
        let audit = Audit::new(imports, &g);
        assert_eq!(audit.refusals.len(), 1);
        assert_eq!(audit.refusals[0].capability, Capability::Random);
        assert!(audit.unused.is_empty());
    }

    #[test]
    fn outbound_is_unused_without_the_import() {
        let mut g = Grants::none(GrantSite::Flags);
        g.outbound.push(Granted::new(
            "https://api.example.com".parse().unwrap(),
            Origin::Flag("--outbound https://api.example.com".into()),
        ));
        let imports = ["wasi:http/outgoing-handler@0.2.3"];
        assert!(Audit::new(imports, &g).unused.is_empty());
        let other = Audit::new(["wasi:cli/stdout@0.2.3"], &g);
        assert!(
            other.unused[0].contains("does not import wasi:http/outgoing-handler"),
            "{:?}",
            other.unused
        );
        let mut none = Grants::none(GrantSite::Flags);
        none.strict = Granted::new(true, Origin::Flag("--strict".into()));
        let none = Audit::new(imports, &none);
        assert!(
            none.refusals[0]
                .message
                .ends_with("add --outbound https://HOST")
        );
    }
}
