//! `[component.NAME]` and the `[[trigger.http]]` that routes to it, as an [`AppComponent`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Spanned;
use wasmhub_app::{
    AppComponent, Budget, ComponentName, ConfigGrant, ConfigSource, ConfigValue, DirGrant, DirMode,
    EnvGrant, GrantSite, Granted, Grants, InterfaceName, Link, Origin, OutboundRule, Route,
    StoreGrant, StoreLabel, WasiVersion,
};
use wasmhub_manifest::ManifestError;

use crate::Locator;
use crate::schema::{Component, SpinManifest};
use crate::template::{Resolved, expand};

/// Where each component is routed: `None` for a private endpoint.
type Routes = BTreeMap<String, Option<Route>>;

/// Every component, in file order.
pub(crate) fn resolve_all(
    m: &SpinManifest,
    vars: &BTreeMap<String, Resolved>,
    base: &Path,
    at: &Locator<'_>,
) -> Result<Vec<AppComponent>, ManifestError> {
    if m.component.is_empty() {
        return Err(at.invalid(
            0,
            "the app has no components: add a [component.NAME] table with source = \"path/to.wasm\"",
        ));
    }
    let routes = routes(m, at)?;
    let mut all: Vec<_> = m.component.iter().collect();
    all.sort_by_key(|(n, _)| n.span().start);
    all.into_iter()
        .map(|(name, c)| {
            ComponentName::try_from(name.get_ref().clone())
                .map_err(|e| at.invalid(name.span().start, &e))?;
            let route = routes.get(name.get_ref()).cloned().flatten();
            one(m, name, c, route, vars, base, at)
        })
        .collect()
}

/// The routes of `[[trigger.http]]`, by component.
fn routes(m: &SpinManifest, at: &Locator<'_>) -> Result<Routes, ManifestError> {
    let mut out = Routes::new();
    let mut claimed: std::collections::HashMap<Route, String> = Default::default();
    for t in &m.trigger.http {
        let t = t.get_ref();
        if let Some(e) = &t.executor {
            let kind = e.get_ref().get("type").and_then(|k| k.as_str());
            if kind != Some("spin") {
                return Err(at.invalid(
                    e.span().start,
                    "`executor` other than { type = \"spin\" } (Wagi) is not supported yet; \
                     build the component for wasi:http, or run it on Spin",
                ));
            }
        }
        let Some(name) = t.component.get_ref().as_str() else {
            return Err(at.invalid(
                t.component.span().start,
                "an inline component in [[trigger.http]] is not supported yet; declare it as \
                 [component.NAME] and write component = \"NAME\"",
            ));
        };
        if !m.component.keys().any(|k| k.get_ref() == name) {
            return Err(at.invalid(
                t.component.span().start,
                &format!(
                    "[[trigger.http]] names component {name:?}, which [component] does not declare"
                ),
            ));
        }
        let route = match t.route.get_ref() {
            toml::Value::String(s) => {
                Some(Route::try_from(s.clone()).map_err(|e| at.invalid(t.route.span().start, &e))?)
            }
            toml::Value::Table(tbl)
                if tbl.get("private").and_then(toml::Value::as_bool) == Some(true) =>
            {
                None
            }
            _ => {
                return Err(at.invalid(
                    t.route.span().start,
                    "route is a path like \"/hello\", \"/api/...\" or \"/users/:id\", or \
                     { private = true }",
                ));
            }
        };
        if out.contains_key(name) {
            return Err(at.invalid(
                t.component.span().start,
                &format!(
                    "component {name:?} is on more than one [[trigger.http]]; one route per \
                     component is supported yet: declare a second [component] with the same source"
                ),
            ));
        }
        if let Some(r) = &route
            && let Some(other) = claimed.insert(r.clone(), name.to_owned())
        {
            return Err(at.invalid(
                t.route.span().start,
                &format!("route \"{r}\" is already claimed by component {other:?}"),
            ));
        }
        out.insert(name.to_owned(), route);
    }
    Ok(out)
}

fn one(
    m: &SpinManifest,
    name: &Spanned<String>,
    c: &Spanned<Component>,
    route: Option<Route>,
    vars: &BTreeMap<String, Resolved>,
    base: &Path,
    at: &Locator<'_>,
) -> Result<AppComponent, ManifestError> {
    let (id, c) = (name.get_ref(), c.get_ref());
    let origin = at.location(name.span().start);
    let here = |offset: usize| Origin::Manifest(at.location(offset));
    let source = source(id, &c.source, base, at)?;
    let mut grants = Grants::none(GrantSite::Spin {
        component: id.clone(),
        at: origin.clone(),
    });
    grants.app = m.application.name.get_ref().clone();
    grants.args = vec![id.clone()];
    grants.env = c
        .environment
        .iter()
        .map(|(k, v)| {
            let g = EnvGrant::Value {
                name: k.get_ref().clone(),
                value: v.get_ref().clone(),
            };
            Granted::new(g, here(k.span().start))
        })
        .collect();
    for f in &c.files {
        let dir = files(id, f, base, at)?;
        grants.dirs.push(Granted::new(dir, here(f.span().start)));
    }
    for h in &c.allowed_outbound_hosts {
        let rule = outbound(h, vars, at)?;
        grants
            .outbound
            .push(Granted::new(rule, here(h.span().start)));
    }
    for s in &c.key_value_stores {
        let label = StoreLabel::try_from(s.get_ref().clone())
            .map_err(|e| at.invalid(s.span().start, &e))?;
        let store = StoreGrant {
            label,
            limits: Default::default(),
        };
        grants
            .keyvalue
            .push(Granted::new(store, here(s.span().start)));
    }
    for (k, v) in &c.variables {
        if let Some(why) = wasmhub_app::spin_variable_name_error(k.get_ref()) {
            return Err(at.invalid(k.span().start, &format!("invalid variable name {why}")));
        }
        let (value, secret) =
            expand(v.get_ref(), vars).map_err(|e| at.invalid(v.span().start, &e))?;
        let grant = ConfigGrant {
            key: k.get_ref().clone(),
            value: ConfigValue {
                source: ConfigSource::Value(value),
                secret,
            },
        };
        grants
            .config
            .push(Granted::new(grant, here(k.span().start)));
    }
    let mut links = Vec::new();
    for (import, target) in &c.dependencies {
        links.push(link(m, id, import, target, at)?);
    }
    Ok(AppComponent {
        tenant: id.clone(),
        isolation: wasmhub_app::Isolation::default(),
        name: id.clone(),
        wasi: sniff_wasi(&source),
        reuse: wasmhub_app::Reuse::default(),
        source,
        route,
        grants,
        budget: Budget::default(),
        origin: Some(origin),
        links,
    })
}

/// A file source; a registry or URL source is refused with the fix.
fn source(
    id: &str,
    s: &Spanned<toml::Value>,
    base: &Path,
    at: &Locator<'_>,
) -> Result<PathBuf, ManifestError> {
    let Some(file) = s.get_ref().as_str() else {
        return Err(at.invalid(
            s.span().start,
            &format!(
                "component {id:?}: a registry or URL source is not supported yet; download \
                 the .wasm (e.g. with `wkg get` or curl) and write source = \"path/to.wasm\""
            ),
        ));
    };
    let path = base.join(file);
    if !path.is_file() {
        return Err(at.invalid(
            s.span().start,
            &format!(
                "component {id:?}: source file {} does not exist; build it (spin build) or fix \
                 the path (relative to spin.toml)",
                path.display()
            ),
        ));
    }
    Ok(path)
}

/// A `files` entry as a read-only directory: `{ source = "dir", destination = "/x" }`, a
/// directory `"dir"` (seen at `/dir`), or `"dir/**"` / `"dir/**/*"` (the same).
fn files(
    id: &str,
    f: &Spanned<toml::Value>,
    base: &Path,
    at: &Locator<'_>,
) -> Result<DirGrant, ManifestError> {
    let (host, guest) = match f.get_ref() {
        toml::Value::String(p) => {
            let dir = p
                .strip_suffix("/**/*")
                .or_else(|| p.strip_suffix("/**"))
                .unwrap_or(p);
            if dir.contains(['*', '?', '[', '{']) {
                return Err(at.invalid(
                    f.span().start,
                    &format!(
                        "component {id:?}: the files pattern {p:?} is not supported yet; \
                         write a directory (\"static\" or \"static/**\") or \
                         {{ source = \"DIR\", destination = \"/PATH\" }}"
                    ),
                ));
            }
            (dir.to_owned(), format!("/{}", dir.trim_start_matches("./")))
        }
        toml::Value::Table(t) => {
            let get = |k: &str| t.get(k).and_then(toml::Value::as_str).map(str::to_owned);
            match (get("source"), get("destination")) {
                (Some(s), Some(d)) if t.len() == 2 => (s, d),
                _ => {
                    return Err(at.invalid(
                        f.span().start,
                        "a files table is { source = \"DIR\", destination = \"/PATH\" }",
                    ));
                }
            }
        }
        _ => {
            return Err(at.invalid(f.span().start, "a files entry is a path or a table"));
        }
    };
    let dir = base.join(&host);
    if !dir.is_dir() {
        return Err(at.invalid(
            f.span().start,
            &format!(
                "component {id:?}: files directory {} does not exist (single files are not \
                 supported yet: name their directory)",
                dir.display()
            ),
        ));
    }
    Ok(DirGrant {
        host: dir,
        guest,
        mode: DirMode::ReadOnly,
    })
}

/// An `allowed_outbound_hosts` entry, templates expanded; non-HTTP schemes refused.
fn outbound(
    h: &Spanned<String>,
    vars: &BTreeMap<String, Resolved>,
    at: &Locator<'_>,
) -> Result<OutboundRule, ManifestError> {
    let offset = h.span().start;
    let (text, _) = expand(h.get_ref(), vars).map_err(|e| at.invalid(offset, &e))?;
    let scheme = text.split_once("://").map_or("", |(s, _)| s);
    let what = match scheme {
        "redis" | "rediss" => Some("outbound Redis"),
        "postgres" | "postgresql" => Some("outbound PostgreSQL"),
        "mysql" => Some("outbound MySQL"),
        "mqtt" | "mqtts" => Some("outbound MQTT"),
        _ => None,
    };
    if let Some(what) = what {
        return Err(at.invalid(
            offset,
            &format!(
                "`allowed_outbound_hosts` entry {text:?}: {what} is not supported yet \
                 (wasmhub allows outbound HTTP); remove it, or run the app on Spin"
            ),
        ));
    }
    let host = text.split_once("://").map_or("", |(_, r)| r);
    if host == "self" || host.starts_with("self:") || host.contains(".spin.internal") {
        return Err(at.invalid(
            offset,
            &format!(
                "`allowed_outbound_hosts` entry {text:?}: calls to the app itself (service \
                 chaining) are not supported yet; use dependencies to link components"
            ),
        ));
    }
    OutboundRule::try_from(text).map_err(|e| at.invalid(offset, &e))
}

/// A `dependencies` entry naming another component of the app: a link.
fn link(
    m: &SpinManifest,
    id: &str,
    import: &Spanned<String>,
    target: &Spanned<toml::Value>,
    at: &Locator<'_>,
) -> Result<Link, ManifestError> {
    let offset = import.span().start;
    let table = target.get_ref().as_table();
    let component = table
        .filter(|t| t.len() == 1)
        .and_then(|t| t.get("component"))
        .and_then(toml::Value::as_str);
    let Some(component) = component else {
        return Err(at.invalid(
            offset,
            &format!(
                "component {id:?}: dependency {:?} is not supported yet: only {{ component = \
                 \"NAME\" }} (another component of this app, no `export`) is linked; \
                 compose registry, path and URL dependencies before (e.g. with `wac plug`)",
                import.get_ref()
            ),
        ));
    };
    let interface = InterfaceName::try_from(import.get_ref().clone()).map_err(|_| {
        at.invalid(
            offset,
            &format!(
                "component {id:?}: dependency {:?} names a package; only whole interfaces \
                 (namespace:package/interface) are linked yet",
                import.get_ref()
            ),
        )
    })?;
    if !m.component.keys().any(|k| k.get_ref() == component) || component == id {
        return Err(at.invalid(
            target.span().start,
            &format!(
                "component {id:?}: dependency {:?} names component {component:?}, which is \
                 not another component of this app",
                import.get_ref()
            ),
        ));
    }
    Ok(Link {
        import: interface,
        target: component.to_owned(),
        at: at.location(offset),
    })
}

/// WASI 0.3 for a component exporting `wasi:http/handler@0.3` (spin-sdk 5 and later), else
/// 0.2: found by the export's name in the binary, without compiling it.
fn sniff_wasi(source: &Path) -> WasiVersion {
    let needle = b"wasi:http/handler@0.3";
    let is3 =
        std::fs::read(source).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle));
    if is3 {
        WasiVersion::P3
    } else {
        WasiVersion::default()
    }
}
