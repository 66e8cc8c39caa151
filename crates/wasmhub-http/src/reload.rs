//! Reloading a running server: the app is read again, prepared and checked completely off
//! the request path (the code of components whose bytes did not change is reused, never
//! recompiled), then published at once as the next generation. One reload at a time; a
//! reload that fails changes nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use wasmhub_app::{App, AppComponent};
use wasmhub_core::{CompileCache, Engines, Metering};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::changes::{Changes, Fingerprints, engine_change, fingerprints};
use crate::prepared::{PreparedApp, prepare_with};
use crate::shared::Shared;

/// Reads the app again: the manifest, or the lone component and the flags it was served with.
pub type LoadApp = Box<dyn Fn() -> anyhow::Result<App> + Send + Sync>;

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new app needs an engine set up differently from the running one.
    #[error("restart to apply: {0}")]
    NeedsRestart(String),
    /// The new app cannot be read, resolved, loaded, checked or linked.
    #[error("the new app cannot be served")]
    Invalid(#[source] anyhow::Error),
}

/// What a reload published.
#[derive(Debug, Clone)]
pub struct Reloaded {
    /// The new generation's number.
    pub generation: u64,
    /// Its components, compared with the previous generation's.
    pub changes: Changes,
    /// The components whose code was loaded (compiled, or mapped from the compile cache)
    /// rather than reused from memory: those whose bytes are new to this server.
    pub loaded: Vec<String>,
    /// How long preparing and publishing took.
    pub took: Duration,
}

impl Reloaded {
    /// The admin listener's answer: `{"generation": N, "changed": [...], ...}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "generation": self.generation,
            "changed": self.changes.changed,
            "unchanged": self.changes.unchanged,
            "added": self.changes.added,
            "removed": self.changes.removed,
            "loaded": self.loaded,
        })
        .to_string()
    }
}

/// What the running generation was made from: its components' fingerprints and code.
#[derive(Default)]
struct Known {
    /// Compiled code by engine (WASI 0.3's or not) and the sha256 of its bytes (the
    /// engines never change while serving).
    code: HashMap<(bool, String), Component>,
    /// Each component's fingerprint, by name.
    prints: Fingerprints,
}

/// Reloads the app of one server; reloads are serialised.
pub struct Reloader {
    load: LoadApp,
    cache: Option<CompileCache>,
    /// What the running engine was set up for.
    metering: Metering,
    known: Mutex<Known>,
}

/// A prepared app and what it was made from.
struct Built {
    app: PreparedApp,
    known: Known,
    loaded: Vec<String>,
}

impl Reloader {
    /// Reloads with `load`, through `cache`, on engines set up for `metering` (`wasi3`: a
    /// WASI 0.3 engine is among them).
    pub fn new(load: LoadApp, cache: Option<CompileCache>, metering: Metering) -> Self {
        Self {
            load,
            cache,
            metering,
            known: Mutex::default(),
        }
    }

    /// Prepares the first generation from `app` (read by the caller with the same loader),
    /// remembering its code for later reloads.
    pub fn prepare_first(
        &self,
        engines: &Engines,
        app: App,
        options: &crate::ServeOptions,
    ) -> anyhow::Result<PreparedApp> {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let built = self.build(engines, options, &known, app, Arc::default())?;
        *known = built.known;
        Ok(built.app)
    }

    /// Reloads off the request path (on a blocking thread) and publishes the result.
    pub async fn reload(self: &Arc<Self>, shared: &Arc<Shared>) -> Result<Reloaded, String> {
        let (me, shared) = (self.clone(), shared.clone());
        tokio::task::spawn_blocking(move || me.reload_now(&shared))
            .await
            .unwrap_or_else(|e| Err(format!("the reload failed: {e}")))
    }

    /// Reads, prepares and publishes the app; the log gets one line either way, and the
    /// answer is the new generation or why nothing changed.
    fn reload_now(&self, shared: &Shared) -> Result<Reloaded, String> {
        // Held throughout: one reload at a time.
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        let before = shared.generation();
        let built = (self.load)()
            .context("cannot read the app")
            .map_err(ReloadError::Invalid)
            .and_then(|app| {
                if let Some(why) = engine_change(self.metering, Metering::for_app(&app)) {
                    return Err(ReloadError::NeedsRestart(why));
                }
                let lanes = before.app.lanes().unwrap_or_default();
                self.build(&shared.engines, &shared.options, &known, app, lanes)
                    .map_err(ReloadError::Invalid)
            });
        let mut built = match built {
            Ok(built) => built,
            Err(e) => {
                let text = format!("{:#}", anyhow::Error::from(e));
                shared.metrics.reload_failed();
                tracing::warn!(
                    generation = before.number,
                    "reload failed; generation {} keeps serving: {text}",
                    before.number
                );
                return Err(text);
            }
        };
        keep_limits(&before.app, &mut built.app);
        drop(before);
        let changes = Changes::between(&known.prints, &built.known.prints);
        let generation = shared.current.publish(built.app);
        *known = built.known;
        shared.metrics.reloaded(generation);
        let reloaded = Reloaded {
            generation,
            changes,
            loaded: built.loaded,
            took: started.elapsed(),
        };
        tracing::info!(generation, "{}", describe(&reloaded));
        Ok(reloaded)
    }

    /// Prepares `app`, reusing from `known` the code of components whose bytes it holds.
    fn build(
        &self,
        engines: &Engines,
        options: &crate::ServeOptions,
        known: &Known,
        app: App,
        lanes: Arc<wasmhub_host::Lanes>,
    ) -> anyhow::Result<Built> {
        let mut code = HashMap::new();
        let mut digests = BTreeMap::new();
        let mut loaded = Vec::new();
        let mut load = |engine: &Engine, c: &AppComponent| -> anyhow::Result<(Component, String)> {
            let wasi3 = engines.is_wasi3(engine);
            let budget = c.budget.with_serve_defaults();
            wasmhub_host::check_size_of(c, &budget)?;
            // Unreadable: loading it below says why, naming the component.
            if let Ok(bytes) = std::fs::read(&c.source) {
                let digest = wasmhub_core::sha256_hex(&bytes);
                if let Some(component) = known.code.get(&(wasi3, digest.clone())) {
                    code.insert((wasi3, digest.clone()), component.clone());
                    digests.insert(c.name.clone(), digest.clone());
                    return Ok((component.clone(), digest));
                }
            }
            let fresh = wasmhub_host::load_checked_code(engine, self.cache.as_ref(), c, &budget)?;
            code.insert((wasi3, fresh.digest.clone()), fresh.component.clone());
            digests.insert(c.name.clone(), fresh.digest.clone());
            loaded.push(c.name.clone());
            Ok((fresh.component, fresh.digest))
        };
        let prepared = prepare_with(engines, app, options, &mut load, lanes)?;
        prepared.ensure_routed()?;
        let prints = fingerprints(&prepared.app, &digests);
        Ok(Built {
            app: prepared,
            known: Known { code, prints },
            loaded,
        })
    }
}

/// Reloads a running server on demand (a cluster host, on a new revision).
#[derive(Clone)]
pub struct ReloadHandle {
    reloader: Arc<Reloader>,
    shared: Arc<Shared>,
}

impl ReloadHandle {
    /// `reloader` for the server sharing `shared`.
    pub(crate) fn new(reloader: Arc<Reloader>, shared: Arc<Shared>) -> Self {
        Self { reloader, shared }
    }

    /// Reloads off the request path: the new generation, or why the current one keeps
    /// serving.
    pub async fn reload(&self) -> Result<Reloaded, String> {
        self.reloader.reload(&self.shared).await
    }
}

/// Gives each component of `after` whose instance cap is unchanged the slots of its
/// namesake in `before`, so its requests in flight still count against the cap.
fn keep_limits(before: &PreparedApp, after: &mut PreparedApp) {
    for served in after.served.iter_mut().flatten() {
        let old = before
            .served
            .iter()
            .flatten()
            .find(|s| s.name == served.name && s.instances.max() == served.instances.max());
        if let Some(old) = old {
            served.instances = old.instances.clone();
        }
    }
}

/// The log line of a reload: `reloaded: generation 4 (changed: a; unchanged: b) in 12 ms`.
fn describe(r: &Reloaded) -> String {
    let mut parts = Vec::new();
    for (what, names) in [
        ("changed", &r.changes.changed),
        ("added", &r.changes.added),
        ("removed", &r.changes.removed),
        ("unchanged", &r.changes.unchanged),
        ("loaded", &r.loaded),
    ] {
        if !names.is_empty() {
            parts.push(format!("{what}: {}", names.join(", ")));
        }
    }
    format!(
        "reloaded: generation {} ({}) in {} ms",
        r.generation,
        parts.join("; "),
        r.took.as_millis()
    )
}
