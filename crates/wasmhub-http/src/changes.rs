//! What a reload changes: each component compared with the running generation's by its
//! code's digest and its configuration, and whether the engine must be set up anew.

use std::collections::BTreeMap;

use wasmhub_app::{App, AppComponent, Grants, Origin};
use wasmhub_core::Metering;

/// What a component is, as far as a reload can tell: its code and its configuration
/// (route, grants, budget, links, WASI), with where each was written left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// sha256 of its code, when it was loaded (routed, or a link target).
    digest: Option<String>,
    /// Its configuration, as text.
    config: String,
}

impl Fingerprint {
    /// `c`'s fingerprint, its code's digest `digest`.
    pub fn of(c: &AppComponent, digest: Option<String>) -> Self {
        let links: Vec<_> = c.links.iter().map(|l| (&l.import, &l.target)).collect();
        let config = format!(
            "{:?}",
            (
                c.route.as_ref().map(ToString::to_string),
                without_origins(&c.grants),
                c.budget,
                links,
                c.wasi
            )
        );
        Self { digest, config }
    }
}

/// `grants` with every origin (manifest line or flag) made the same: moving a line
/// changes no component.
fn without_origins(grants: &Grants) -> Grants {
    fn strip<T: Clone>(v: &[wasmhub_app::Granted<T>]) -> Vec<wasmhub_app::Granted<T>> {
        v.iter()
            .map(|g| wasmhub_app::Granted::new(g.value.clone(), Origin::Default("")))
            .collect()
    }
    let flag =
        |g: &wasmhub_app::Granted<bool>| wasmhub_app::Granted::new(g.value, Origin::Default(""));
    Grants {
        env: strip(&grants.env),
        dirs: strip(&grants.dirs),
        outbound: strip(&grants.outbound),
        connect: strip(&grants.connect),
        bind: strip(&grants.bind),
        stdio: flag(&grants.stdio),
        clocks: flag(&grants.clocks),
        random: flag(&grants.random),
        strict: flag(&grants.strict),
        app: grants.app.clone(),
        keyvalue: strip(&grants.keyvalue),
        config: strip(&grants.config),
        args: grants.args.clone(),
        inherit_stdio: grants.inherit_stdio,
        site: wasmhub_app::GrantSite::Flags,
    }
}

/// Each component of an app, by name.
pub type Fingerprints = BTreeMap<String, Fingerprint>;

/// The fingerprints of `app`'s components, their code's digests from `digests`.
pub fn fingerprints(app: &App, digests: &BTreeMap<String, String>) -> Fingerprints {
    app.components
        .iter()
        .map(|c| {
            let digest = digests.get(&c.name).cloned();
            (c.name.clone(), Fingerprint::of(c, digest))
        })
        .collect()
}

/// Which components a reload changed, left as they were, added and removed, by name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// In both, different code or configuration.
    pub changed: Vec<String>,
    /// In both, the same.
    pub unchanged: Vec<String>,
    /// Only in the new app.
    pub added: Vec<String>,
    /// Only in the running one.
    pub removed: Vec<String>,
}

impl Changes {
    /// From the running generation's components (`before`) to the new app's (`after`).
    pub fn between(before: &Fingerprints, after: &Fingerprints) -> Self {
        let mut changes = Self::default();
        for (name, print) in after {
            match before.get(name) {
                None => changes.added.push(name.clone()),
                Some(old) if old == print => changes.unchanged.push(name.clone()),
                Some(_) => changes.changed.push(name.clone()),
            }
        }
        changes.removed = before
            .keys()
            .filter(|name| !after.contains_key(*name))
            .cloned()
            .collect();
        changes
    }
}

/// Why the engine the server runs cannot serve an app that needs `wanted`: the reason a
/// reload is refused with "restart to apply", or `None` when it can.
pub fn engine_change(running: Metering, wanted: Metering) -> Option<String> {
    if wanted.wasi3 && !running.wasi3 {
        return Some(
            "a component now opts into WASI 0.3, which needs the engine's concurrency support \
             (set up when the server starts)"
                .into(),
        );
    }
    if wanted.fuel && !running.fuel {
        return Some(
            "a budget now sets fuel, which the running engine does not meter (metering is \
             set up when the server starts)"
                .into(),
        );
    }
    if wanted.stack != running.stack {
        let show =
            |s: Option<u64>| s.map_or_else(|| "the default".to_owned(), wasmhub_app::human_bytes);
        return Some(format!(
            "the largest wasm stack a budget sets changed from {} to {}; it is one limit for \
             the whole engine",
            show(running.stack),
            show(wanted.stack)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(digest: &str, config: &str) -> Fingerprint {
        Fingerprint {
            digest: Some(digest.into()),
            config: config.into(),
        }
    }

    #[test]
    fn changes_are_sorted_into_four_lists() {
        let before: Fingerprints = [
            ("a".to_owned(), print("1", "x")),
            ("b".to_owned(), print("2", "x")),
            ("c".to_owned(), print("3", "x")),
        ]
        .into();
        let after: Fingerprints = [
            ("a".to_owned(), print("1", "x")),
            ("b".to_owned(), print("2", "y")),
            ("d".to_owned(), print("4", "x")),
        ]
        .into();
        let changes = Changes::between(&before, &after);
        assert_eq!(changes.unchanged, ["a"]);
        assert_eq!(changes.changed, ["b"]);
        assert_eq!(changes.added, ["d"]);
        assert_eq!(changes.removed, ["c"]);
    }

    #[test]
    fn an_engine_setting_change_needs_a_restart() {
        let running = Metering::default();
        assert_eq!(engine_change(running, running), None);
        // Fuel the engine meters but no budget asks for is harmless.
        let fueled = Metering {
            fuel: true,
            ..running
        };
        assert_eq!(engine_change(fueled, running), None);
        assert!(engine_change(running, fueled).unwrap().contains("fuel"));
        let wasi3 = Metering {
            wasi3: true,
            ..running
        };
        assert!(engine_change(running, wasi3).unwrap().contains("WASI 0.3"));
        let stack = Metering {
            stack: Some(1 << 20),
            ..running
        };
        assert!(engine_change(running, stack).unwrap().contains("stack"));
    }
}
