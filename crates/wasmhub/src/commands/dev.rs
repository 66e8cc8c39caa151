//! `wasmhub dev`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;
use wasmhub_app::App;
use wasmhub_core::{EngineKind, Engines, Metering};
use wasmhub_http::ServeOptions;
use wasmhub_manifest::Sources;

use crate::common::CacheFlags;
use crate::dev::{Builds, Failures, watch_loop};

/// Build, serve, and on each edit rebuild what changed and reload, without a restart.
///
/// Builds every component with a [component.NAME.build], serves the app, and watches the
/// app's directory: a change to a file matching a component's `watch` globs rebuilds that
/// component (a newer change cancels a build in progress) and reloads the app in place; a
/// manifest change reloads everything. Build outputs and tool folders (target/,
/// node_modules/, .wasmhub/) are ignored. A failed build prints its error and the last
/// good version keeps serving; a component that never built answers 503 with its build
/// error on its routes while the others serve.
#[derive(Parser)]
pub struct DevCommand {
    #[command(flatten)]
    state: crate::common::StateFlags,
    #[command(flatten)]
    cache: CacheFlags,
    /// Address to listen on; port 0 picks a free port (printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The app's manifest.
    #[arg(default_value = "wasmhub.toml")]
    manifest: PathBuf,
}

impl DevCommand {
    /// Builds, serves and watches until SIGINT or SIGTERM.
    pub fn execute(self) -> Result<i32> {
        self.state.apply()?;
        let manifest = self.manifest;
        let m = wasmhub_manifest::load_with(&manifest, Sources::MayBeBuilt)?;
        let targets = wasmhub_dev::plan(&m, &[])?;
        let failures = Failures::default();
        let builds = Builds::new(failures.clone(), &targets);
        for target in &targets {
            if let Err(e) = builds.run(target, &wasmhub_dev::Cancel::default()) {
                builds.report_failure(&target.name, &e);
            }
        }
        let load = {
            let (manifest, failures) = (manifest.clone(), failures.clone());
            move || load(&manifest, &failures)
        };
        let app = load()?;
        let metering = Metering::for_app(&app);
        let engines = Engines::build(&app, metering, |metering| {
            self.cache.engine(EngineKind::Serve {
                max_instances: ServeOptions::default().max_instances,
                metering,
            })
        })?;
        let options = ServeOptions {
            addr: self.addr,
            ..ServeOptions::default()
        };
        let reloader = wasmhub_http::Reloader::new(Box::new(load), self.cache.cache(), metering);
        let prepared = reloader.prepare_first(&engines, app, &options)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        rt.block_on(wasmhub_http::serve_then(
            engines,
            prepared,
            options,
            Some(reloader),
            move |reload| {
                let reload = reload.expect("dev serves with a reloader");
                std::thread::spawn(move || {
                    if let Err(e) = watch_loop(&manifest, targets, builds, &reload, &handle) {
                        crate::report::print_error(&e);
                        std::process::exit(2);
                    }
                });
            },
        ))?;
        Ok(0)
    }
}

/// The app as `dev` serves it: components that never built (or link to one that did not)
/// are marked unavailable with their build error.
fn load(manifest: &Path, failures: &Failures) -> Result<App> {
    let mut app = App::from_manifest_with(manifest, Sources::MayBeBuilt)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    crate::oci::resolve_app(&mut app)?;
    let failed = failures.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut unavailable: BTreeMap<String, String> = BTreeMap::new();
    for c in &app.components {
        if !c.source.is_file() {
            let why = failed.get(&c.name).cloned().unwrap_or_else(|| {
                format!(
                    "it has not been built: {} does not exist",
                    c.source.display()
                )
            });
            unavailable.insert(c.name.clone(), why);
        }
    }
    // A component linking to one that cannot run cannot run either.
    loop {
        let more: Vec<(String, String)> = app
            .components
            .iter()
            .filter(|c| !unavailable.contains_key(&c.name))
            .filter_map(|c| {
                let l = c
                    .links
                    .iter()
                    .find(|l| unavailable.contains_key(&l.target))?;
                Some((
                    c.name.clone(),
                    format!(
                        "it links to component \"{}\", which cannot run yet",
                        l.target
                    ),
                ))
            })
            .collect();
        if more.is_empty() {
            break;
        }
        unavailable.extend(more);
    }
    app.unavailable = unavailable;
    Ok(app)
}
