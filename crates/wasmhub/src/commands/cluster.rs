//! `wasmhub cluster status`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use wasmhub_cluster::hosts::HostReport;

use crate::nats::{client, on_nats};

/// Look at a cluster of hosts on NATS.
#[derive(Parser)]
pub struct ClusterCommand {
    #[command(subcommand)]
    action: ClusterAction,
}

#[derive(Subcommand)]
enum ClusterAction {
    /// Each app's current revision, and the live hosts: the revision each serves, its
    /// health (ready, updating, failing, starting, draining), age of its last heartbeat.
    Status {
        /// The cluster's NATS servers: nats://HOST:PORT, several comma-separated.
        #[arg(long, value_name = "URL")]
        cluster: String,
        #[command(flatten)]
        nats: crate::nats::NatsAccessFlags,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

impl ClusterCommand {
    /// Runs the action.
    pub fn execute(self) -> Result<i32> {
        let ClusterAction::Status {
            cluster,
            nats,
            json,
        } = self.action;
        let nats = client(&cluster, &nats.access(), "wasmhub-status")?;
        let (apps, hosts) = on_nats(async move {
            let js = async_nats::jetstream::new(nats);
            let apps = wasmhub_cluster::deploy::apps(&js).await?;
            let hosts = wasmhub_cluster::hosts::list(&js).await?;
            Ok::<_, anyhow::Error>((apps, hosts))
        })
        .with_context(|| format!("cannot read the status of {cluster}"))?;
        if json {
            let hosts: Vec<serde_json::Value> = hosts.iter().map(host_json).collect();
            let apps: Vec<serde_json::Value> = apps
                .iter()
                .map(|(app, rev)| serde_json::json!({"app": app, "revision": rev}))
                .collect();
            println!("{}", serde_json::json!({"apps": apps, "hosts": hosts}));
            return Ok(0);
        }
        for (app, rev) in &apps {
            println!("app \"{app}\": revision {rev}");
        }
        if hosts.is_empty() {
            println!("no live hosts");
            return Ok(0);
        }
        println!(
            "\n{:<20} {:<16} {:>8}  {:<9} {:>6}  ADDR",
            "HOST", "APP", "REVISION", "HEALTH", "AGE"
        );
        for h in &hosts {
            let rev = h.revision.map_or_else(|| "-".to_owned(), |r| r.to_string());
            println!(
                "{:<20} {:<16} {:>8}  {:<9} {:>5.1}s  {}",
                h.id,
                h.app,
                rev,
                h.health(),
                h.age().as_secs_f64(),
                h.addr
            );
            if let Some(e) = &h.error {
                println!("  error: {e}");
            }
        }
        Ok(0)
    }
}

/// One host in `--json`.
fn host_json(h: &HostReport) -> serde_json::Value {
    serde_json::json!({
        "id": h.id,
        "app": h.app,
        "addr": h.addr,
        "revision": h.revision,
        "current": h.current,
        "health": h.health(),
        "draining": h.draining,
        "error": h.error,
        "age_ms": u64::try_from(h.age().as_millis()).unwrap_or(u64::MAX),
    })
}
