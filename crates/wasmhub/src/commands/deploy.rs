//! `wasmhub deploy`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use wasmhub_cluster::deploy::Code;

use crate::commands::serve::parse_duration;
use crate::common::{CacheFlags, GrantFlags, StrictFlag};
use crate::nats::{client, on_nats};

/// Deploy an app to a cluster: every host of the app converges on this revision.
///
/// Resolves and checks the app exactly as `check` does, pins every component by the
/// sha256 of its code, uploads the code the cluster lacks to its Object Store, and writes
/// the next revision of the app's desired state (compare-and-set on the previous one, so
/// of two racing deploys one fails and changes nothing). Prints the revision.
#[derive(Parser)]
pub struct DeployCommand {
    #[command(flatten)]
    cache: CacheFlags,
    /// The cluster's NATS servers: nats://HOST:PORT, several comma-separated.
    #[arg(long, value_name = "URL")]
    cluster: String,
    #[command(flatten)]
    nats: crate::nats::NatsAccessFlags,
    /// Wait until every live host of the app serves the new revision.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits, e.g. 60s.
    #[arg(long, default_value = "60s", value_parser = parse_duration, requires = "wait")]
    wait_timeout: Duration,
    /// The app manifest.
    #[arg(default_value = "wasmhub.toml")]
    manifest: PathBuf,
}

impl DeployCommand {
    /// Deploys; with --wait, returns once every host serves it.
    pub fn execute(self) -> Result<i32> {
        let path = &self.manifest;
        if path.extension().is_none_or(|e| e != "toml") || wasmhub_spin::is_spin_manifest(path) {
            anyhow::bail!(
                "deploy takes an app manifest (wasmhub.toml), not {}",
                path.display()
            );
        }
        // The check opens no real store: the hosts hold the state.
        wasmhub_state::choose_backend(wasmhub_state::BackendChoice::Memory);
        let app = crate::commands::check::checked(
            path,
            GrantFlags::default(),
            &self.cache,
            StrictFlag::default(),
            &crate::budget::ServeBudgetFlags::default(),
            crate::common::IsolationFlag::default(),
        )?;
        let manifest = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut code = Vec::new();
        for c in &app.components {
            let bytes = std::fs::read(&c.source).with_context(|| {
                format!(
                    "cannot read the code of component \"{}\" at {}",
                    c.name,
                    c.source.display()
                )
            })?;
            code.push(Code {
                component: c.name.clone(),
                sha256: wasmhub_cluster::blobs::sha256_hex(&bytes),
                bytes,
            });
        }
        let nats = client(&self.cluster, &self.nats.access(), "wasmhub-deploy")?;
        let name = app.name.clone();
        let deployed = {
            let nats = nats.clone();
            on_nats(
                async move { wasmhub_cluster::deploy::deploy(&nats, &name, &manifest, code).await },
            )
        }
        .with_context(|| format!("cannot deploy app \"{}\" to {}", app.name, self.cluster))?;
        let d = &deployed.desired;
        println!("\ndeployed app \"{}\" revision {}", d.app, d.revision);
        for (component, sha) in &d.components {
            let how = if deployed.uploaded.contains(component) {
                "uploaded"
            } else {
                "already in the cluster"
            };
            println!("  {component} sha256:{sha} ({how})");
        }
        if self.wait {
            wait_for(&nats, &d.app, d.revision, self.wait_timeout)?;
        }
        Ok(0)
    }
}

/// Waits until every live host of `app` serves `revision` (and there is one).
fn wait_for(nats: &async_nats::Client, app: &str, revision: u64, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    let mut said = String::new();
    loop {
        let nats = nats.clone();
        let hosts = on_nats(async move {
            let js = async_nats::jetstream::new(nats);
            wasmhub_cluster::hosts::list(&js).await
        })?;
        let mine: Vec<_> = hosts.into_iter().filter(|h| h.app == app).collect();
        let done = mine
            .iter()
            .filter(|h| h.revision.is_some_and(|r| r >= revision))
            .count();
        let line = format!("{done} of {} hosts serve revision {revision}", mine.len());
        if line != said {
            println!("{line}");
            said = line;
        }
        if !mine.is_empty() && done == mine.len() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let late: Vec<String> = mine
                .iter()
                .filter(|h| h.revision.is_none_or(|r| r < revision))
                .map(|h| match &h.error {
                    Some(e) => format!("{} ({e})", h.id),
                    None => h.id.clone(),
                })
                .collect();
            anyhow::bail!(
                "not every host of app \"{app}\" served revision {revision} within {}s{}; see `wasmhub cluster status`",
                within.as_secs(),
                if late.is_empty() {
                    ": no host of the app is live".to_owned()
                } else {
                    format!(": {}", late.join(", "))
                }
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
