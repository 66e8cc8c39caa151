//! Calls denied while running: one warning per component and capability, then counts.
//!
//! A capability a component imports but is not granted is linked anyway and every call to
//! it fails the way WASI reports a denial. The first such call of each kind names the
//! component, what it tried and the exact grant that would allow it; later ones are only
//! counted (`serve` exports the counts as metrics), so a guest cannot flood the log.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use wasmhub_app::GrantSite;

use crate::Capability;

/// The capabilities whose calls can be denied while a component runs.
pub const DENIABLE: [Capability; 5] = [
    Capability::Files,
    Capability::Sockets,
    Capability::OutboundHttp,
    Capability::KeyValue,
    Capability::Config,
];

/// Where the first denial of each kind is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialSink {
    /// The log (`tracing`, at warn): `serve`.
    Log,
    /// Standard error as `wasmhub: warning: ...`: `run` and `invoke`, so it is not mistaken
    /// for the guest's own output.
    Stderr,
}

static SINK: OnceLock<DenialSink> = OnceLock::new();

/// Sends denial warnings to `sink` for the rest of the process (the first call wins).
pub fn report_denials_to(sink: DenialSink) {
    let _ = SINK.set(sink);
}

/// One denied call: what the component tried, and the grant that would have allowed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The capability.
    pub capability: Capability,
    /// What it tried, as the message says it: `open a file`, `connect to tcp://1.2.3.4:5`.
    pub tried: String,
    /// Why it was denied: `is granted no files`, `no socket grant covers it`.
    pub why: &'static str,
    /// The manifest grant that allows it: `outbound = ["https://x"]`.
    pub manifest: String,
    /// The flag that allows it: `--outbound https://x`.
    pub flag: String,
}

/// The denials of one component (shared by all its instances in this process).
#[derive(Debug)]
pub struct Denials {
    site: GrantSite,
    name: OnceLock<String>,
    counts: [AtomicU64; DENIABLE.len()],
}

type Registry = Mutex<BTreeMap<String, Arc<Denials>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

fn slot(capability: Capability) -> usize {
    DENIABLE
        .iter()
        .position(|c| *c == capability)
        .expect("only the capabilities in DENIABLE are denied at the call")
}

impl Denials {
    /// The denials of the component granted at `site`, shared by all its instances.
    pub fn of(site: &GrantSite) -> Arc<Self> {
        let mut all = registry().lock().unwrap_or_else(|e| e.into_inner());
        all.entry(site.subject())
            .or_insert_with(|| {
                Arc::new(Self {
                    site: site.clone(),
                    name: OnceLock::new(),
                    counts: Default::default(),
                })
            })
            .clone()
    }

    /// Records a denied call; the first of its capability is reported with the fix.
    pub fn deny(&self, denied: &Denied) {
        let before = self.counts[slot(denied.capability)].fetch_add(1, Ordering::Relaxed);
        if before > 0 {
            // Formatted only when debug logging is on: later denials are only counted.
            tracing::debug!(target: "wasmhub::denied", "{}", self.message(denied));
            return;
        }
        let message = self.message(denied);
        match SINK.get().copied().unwrap_or(DenialSink::Log) {
            DenialSink::Stderr => eprintln!("wasmhub: warning: {message}"),
            DenialSink::Log => tracing::warn!(
                target: "wasmhub::denied",
                capability = denied.capability.name(),
                "{message}"
            ),
        }
    }

    /// The warning for `denied`: the component, what it tried, and the grant to add.
    pub fn message(&self, denied: &Denied) -> String {
        let fix = crate::audit::how_to_grant(&self.site, &denied.manifest, &denied.flag);
        format!(
            "{} tried to {} but {}: the call was denied; to allow it, {fix}",
            self.site.subject(),
            denied.tried,
            denied.why
        )
    }

    /// Names the component for metrics (a lone component's grants carry no name).
    pub fn name_as(&self, name: &str) {
        let _ = self.name.set(name.to_owned());
    }

    /// The component's name, as metrics label it.
    pub fn name(&self) -> &str {
        match (self.name.get(), &self.site) {
            (Some(name), _) => name,
            (None, GrantSite::Manifest { component, .. } | GrantSite::Spin { component, .. }) => {
                component
            }
            (None, GrantSite::Flags) => "component",
        }
    }

    /// Every component's denials in this process, by name.
    pub fn all() -> Vec<Arc<Self>> {
        let all = registry().lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<Arc<Self>> = all.values().cloned().collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }

    /// How many calls of `capability` were denied so far.
    pub fn count(&self, capability: Capability) -> u64 {
        self.counts[slot(capability)].load(Ordering::Relaxed)
    }
}

impl Denied {
    /// Opening `path` while granted no files.
    pub fn file(path: &str) -> Self {
        Self {
            capability: Capability::Files,
            tried: format!("open {path}"),
            why: "it is granted no files",
            manifest: "files = [{ host = \"...\", guest = \"/...\" }]".into(),
            flag: "--dir HOST::GUEST[:ro]".into(),
        }
    }

    /// A socket use no rule covers: `rule` is what would (`tcp://127.0.0.1:5432`), `bind`
    /// whether it binds or listens rather than connects or sends.
    pub fn socket(verb: &str, rule: String, bind: bool) -> Self {
        let key = if bind { "bind" } else { "connect" };
        Self {
            capability: Capability::Sockets,
            tried: format!("{verb} {rule}"),
            why: "no socket grant covers it",
            manifest: format!("sockets = {{ {key} = [\"{rule}\"] }}"),
            flag: format!("--{key} {rule}"),
        }
    }

    /// Looking up `name` while no socket grant names a host.
    pub fn lookup(name: &str) -> Self {
        Self {
            capability: Capability::Sockets,
            tried: format!("look up {name}"),
            why: "no socket grant names that host",
            manifest: format!("sockets = {{ connect = [\"tcp://{name}:PORT\"] }}"),
            flag: format!("--connect tcp://{name}:PORT"),
        }
    }

    /// Opening key-value store `label` that is not granted to the component.
    pub fn keyvalue(label: &str) -> Self {
        let shown = shown(label);
        Self {
            capability: Capability::KeyValue,
            tried: format!("open key-value store {shown}"),
            why: "it is not granted that store",
            manifest: format!("keyvalue = [{shown}]"),
            flag: format!("--keyvalue {}", shown.trim_matches('"')),
        }
    }

    /// Reading configuration key `key` while granted no configuration.
    pub fn config(key: &str) -> Self {
        let shown = shown(key);
        Self {
            capability: Capability::Config,
            tried: format!("read config key {shown}"),
            why: "it is granted no config",
            manifest: format!("config = {{ {shown} = \"VALUE\" }}"),
            flag: format!("--config {}=VALUE", shown.trim_matches('"')),
        }
    }

    /// An outgoing HTTP request to `origin` (`https://api.example.com:443`) no rule covers.
    pub fn outbound(origin: &str) -> Self {
        Self {
            capability: Capability::OutboundHttp,
            tried: format!("send an HTTP request to {origin}"),
            why: "no outbound grant covers it",
            manifest: format!("outbound = [\"{origin}\"]"),
            flag: format!("--outbound {origin}"),
        }
    }
}

/// A guest-chosen string as a message shows it: quoted, escaped, at most 64 characters.
fn shown(s: &str) -> String {
    let mut cut: String = s.chars().take(64).collect();
    if cut.len() < s.len() {
        cut.push_str("...");
    }
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_denial_of_each_kind_names_the_fix_and_all_are_counted() {
        let site = GrantSite::Manifest {
            component: "denials-test".into(),
            at: "wasmhub.toml:5".into(),
        };
        let d = Denials::of(&site);
        assert!(Arc::ptr_eq(&d, &Denials::of(&site)), "one per component");
        let out = Denied::outbound("https://api.example.com:443");
        assert_eq!(
            d.message(&out),
            "component \"denials-test\" tried to send an HTTP request to \
             https://api.example.com:443 but no outbound grant covers it: the call was denied; \
             to allow it, add outbound = [\"https://api.example.com:443\"] under \
             [component.denials-test.grant] (wasmhub.toml:5)"
        );
        d.deny(&out);
        d.deny(&out);
        d.deny(&Denied::file("/data/x"));
        assert_eq!(d.count(Capability::OutboundHttp), 2);
        assert_eq!(d.count(Capability::Files), 1);
        assert_eq!(d.count(Capability::Sockets), 0);
        let flags = Denials {
            site: GrantSite::Flags,
            name: OnceLock::new(),
            counts: Default::default(),
        };
        assert_eq!(flags.name(), "component");
        flags.name_as("hello");
        assert_eq!(flags.name(), "hello");
        assert!(
            flags
                .message(&Denied::socket(
                    "connect to",
                    "tcp://127.0.0.1:9".into(),
                    false
                ))
                .ends_with("to allow it, add --connect tcp://127.0.0.1:9"),
        );
    }
}
