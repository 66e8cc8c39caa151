//! The engines serving one app: WASI 0.2 components keep an engine without the component
//! model's concurrency support (which every call through it would pay for), WASI 0.3
//! components get one with it.

use anyhow::{Result, bail};
use wasmhub_app::{App, AppComponent, WasiVersion};
use wasmtime::Engine;

use crate::Metering;

/// An app's engines: one per WASI version it uses, or only the 0.3 one when a link joins
/// a 0.2 and a 0.3 component (linked components must share an engine).
#[derive(Clone)]
pub struct Engines {
    /// The engine without concurrency support, for WASI 0.2 components.
    p2: Option<Engine>,
    /// The engine with concurrency support, for WASI 0.3 components (and 0.2 ones when
    /// there is no 0.2 engine).
    p3: Option<Engine>,
}

impl From<Engine> for Engines {
    /// One engine for every component (it runs 0.3 ones only if built for them).
    fn from(engine: Engine) -> Self {
        Self {
            p2: Some(engine.clone()),
            p3: Some(engine),
        }
    }
}

/// Which engines serving `app` takes: `(0.2 engine, 0.3 engine)`.
pub fn engines_needed(app: &App) -> (bool, bool) {
    let has3 = app.components.iter().any(|c| c.wasi == WasiVersion::P3);
    let has2 = !has3 || app.components.iter().any(|c| c.wasi == WasiVersion::P2);
    (has2 && !(has3 && joins_versions(app)), has3)
}

/// Whether a link joins a WASI 0.2 and a WASI 0.3 component of `app`.
pub fn joins_versions(app: &App) -> bool {
    app.components.iter().any(|c| {
        c.links.iter().any(|l| {
            app.components
                .iter()
                .any(|t| t.name == l.target && t.wasi != c.wasi)
        })
    })
}

impl Engines {
    /// Builds the engines `app` needs with `make`, each metering `metering` (with WASI 0.3
    /// only on the 0.3 engine).
    pub fn build(
        app: &App,
        metering: Metering,
        mut make: impl FnMut(Metering) -> Result<Engine>,
    ) -> Result<Self> {
        let (p2, p3) = engines_needed(app);
        Ok(Self {
            p2: p2
                .then(|| {
                    make(Metering {
                        wasi3: false,
                        ..metering
                    })
                })
                .transpose()?,
            p3: p3
                .then(|| {
                    make(Metering {
                        wasi3: true,
                        ..metering
                    })
                })
                .transpose()?,
        })
    }

    /// Which engines there are, for the log: "engines: WASI 0.2, WASI 0.3".
    pub fn describe(&self) -> String {
        let names: Vec<&str> = match (&self.p2, &self.p3) {
            (Some(a), Some(b)) if Engine::same(a, b) => vec!["one for every component"],
            (p2, p3) => p2
                .iter()
                .map(|_| "WASI 0.2")
                .chain(p3.iter().map(|_| "WASI 0.3 (concurrency support)"))
                .collect(),
        };
        format!("engines: {}", names.join(", "))
    }

    /// Whether some engine runs WASI 0.3 components.
    pub fn has_wasi3(&self) -> bool {
        self.p3.is_some()
    }

    /// Every distinct engine.
    pub fn all(&self) -> Vec<&Engine> {
        match (&self.p2, &self.p3) {
            (Some(a), Some(b)) if Engine::same(a, b) => vec![a],
            (a, b) => a.iter().chain(b.iter()).collect(),
        }
    }

    /// An engine that loads every component of the app (0.3's when there is one).
    pub fn widest(&self) -> &Engine {
        self.p3
            .as_ref()
            .or(self.p2.as_ref())
            .expect("an app has at least one engine")
    }

    /// Whether `engine` is the one for WASI 0.3 components.
    pub fn is_wasi3(&self, engine: &Engine) -> bool {
        self.p3.as_ref().is_some_and(|p3| Engine::same(p3, engine))
    }

    /// The engine component `c` of `app` runs on.
    pub fn pick(&self, app: &App, c: &AppComponent) -> Result<&Engine> {
        let wanted = if c.wasi == WasiVersion::P3 || joins_versions(app) {
            self.p3.as_ref()
        } else {
            self.p2.as_ref().or(self.p3.as_ref())
        };
        match wanted {
            Some(engine) => Ok(engine),
            None => bail!(
                "component \"{}\" needs the WASI 0.3 engine, which this server did not set up \
                 when it started; restart it to serve WASI 0.3 components",
                c.name
            ),
        }
    }
}
