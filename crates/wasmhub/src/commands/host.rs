//! `wasmhub host`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use wasmhub_core::{EngineKind, Engines, Metering, new_engine};
use wasmhub_http::{ReadyCheck, Reloader, ServeOptions, Server};

use crate::commands::serve::parse_duration;
use crate::common::CacheFlags;
use crate::host::follow::{self, Files, Identity, Links};
use crate::host::status::{self, Status};
use crate::nats::{client, on_nats};

/// Serve an app as one host of a cluster: its revisions come from `wasmhub deploy`.
///
/// Joins the cluster, fetches the app's current revision, checks every component's code
/// against its sha256 (refusing, and naming, code that does not match), prepares it and
/// serves. Each new revision is prepared off the request path and swapped in without
/// dropping a request; one that cannot be prepared leaves the last good one serving and
/// is reported by `wasmhub cluster status`. Key-value stores are on the cluster. A
/// heartbeat every second keeps the host listed; GET /-/health on --admin-addr answers 200
/// while it should get requests. On SIGTERM it turns unready, waits --drain-grace for
/// load balancers to notice, then drains. If NATS is unreachable it keeps serving.
#[derive(Parser)]
pub struct HostCommand {
    #[command(flatten)]
    cache: CacheFlags,
    /// The cluster's NATS servers: nats://HOST:PORT, several comma-separated.
    #[arg(long, value_name = "URL")]
    cluster: String,
    #[command(flatten)]
    nats: crate::nats::NatsAccessFlags,
    /// The app to serve (its name in its manifest).
    #[arg(long)]
    app: String,
    /// Address to listen on; port 0 picks a free port (printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Serve GET /-/health and POST /-/reload at http://ADDR (loopback unless
    /// --admin-allow-remote).
    #[arg(long, value_name = "ADDR")]
    admin_addr: Option<SocketAddr>,
    /// Let --admin-addr be an address other than loopback.
    #[arg(long, requires = "admin_addr")]
    admin_allow_remote: bool,
    /// This host's id in `cluster status` [default: HOSTNAME-PID].
    #[arg(long)]
    id: Option<String>,
    /// Where revisions and their code are kept [default: a folder under the temp dir].
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Instances alive at once; beyond it requests get 503 with Retry-After.
    #[arg(long, default_value_t = 1000)]
    max_instances: u32,
    /// Wall-clock limit per request, e.g. 30s or 500ms; past it the client gets 504.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// On SIGTERM, how long the host answers requests while unready before it drains.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    drain_grace: Duration,
}

/// `HOSTNAME-PID` with anything but `[A-Za-z0-9_-]` dropped (a NATS key).
fn default_id() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!(
        "{}-{}",
        if name.is_empty() { "host" } else { &name },
        std::process::id()
    )
}

impl HostCommand {
    /// Serves until SIGINT or SIGTERM.
    pub fn execute(self) -> Result<i32> {
        let id = self.id.clone().unwrap_or_else(default_id);
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            anyhow::bail!("--id {id:?}: use letters, digits, `-` and `_` only");
        }
        let dir = match &self.work_dir {
            Some(d) => d.clone(),
            None => std::env::temp_dir().join(format!("wasmhub-host-{id}")),
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}; pick another --work-dir", dir.display()))?;
        wasmhub_state::choose_backend(wasmhub_state::BackendChoice::External(Arc::new(
            crate::nats::NatsOpener::new(&self.cluster, &self.nats.access()),
        )));
        let nats = client(
            &self.cluster,
            &self.nats.access(),
            &format!("wasmhub-host-{id}"),
        )?;
        let links = Arc::new(on_nats(async move {
            Links {
                js: async_nats::jetstream::new(nats.clone()),
                replicas: wasmhub_cluster::connection::replicas(&nats),
            }
        }));
        let status: status::Shared = Arc::default();
        let me = Identity {
            id: id.clone(),
            app: self.app.clone(),
            addr: self.addr.to_string(),
            started_ms: wasmhub_cluster::hosts::now_ms(),
        };
        let files = Files {
            dir,
            manifest: Arc::new(Mutex::new(PathBuf::new())),
        };
        println!("host {id} joined {} for app \"{}\"", self.cluster, self.app);
        // The first revision: waited for, and retried until one can be prepared.
        let (revision, manifest) = loop {
            let (links, shared, app) = (links.clone(), status.clone(), self.app.clone());
            let dir = files.dir.clone();
            let found = on_nats(async move {
                let files = Files {
                    dir,
                    manifest: Arc::default(),
                };
                follow::next_revision(&links, &files, &app, &shared).await
            });
            if let Some(found) = found {
                match wasmhub_app::App::from_manifest(&found.1) {
                    Ok(_) => break found,
                    Err(e) => {
                        Status::of(&status).failed = Some((found.0, format!("{e:#}")));
                    }
                }
            }
            std::thread::sleep(follow::POLL);
        };
        *files.manifest.lock().unwrap_or_else(|e| e.into_inner()) = manifest.clone();
        let path = files.manifest.clone();
        let load = move || -> Result<wasmhub_app::App> {
            let path = path.lock().unwrap_or_else(|e| e.into_inner()).clone();
            Ok(wasmhub_app::App::from_manifest(&path)?)
        };
        let app = load()?;
        let metering = Metering::for_app(&app);
        let options = ServeOptions {
            addr: self.addr,
            max_instances: self.max_instances,
            request_timeout: self.request_timeout,
            admin_addr: self.admin_addr,
            admin_remote: self.admin_allow_remote,
            ..ServeOptions::default()
        };
        let engines = Engines::build(&app, metering, |metering| {
            new_engine(EngineKind::Serve {
                max_instances: options.max_instances,
                metering,
            })
        })?;
        let reloader = Reloader::new(Box::new(load), self.cache.cache(), metering);
        let prepared = reloader
            .prepare_first(&engines, app, &options)
            .with_context(|| {
                format!(
                    "revision {revision} of app \"{}\" cannot be served",
                    self.app
                )
            })?;
        Status::of(&status).serving = Some(revision);
        println!("serving revision {revision}");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let (grace, app_name) = (self.drain_grace, self.app.clone());
        rt.block_on(async move {
            let ready = status.clone();
            let check: ReadyCheck = Arc::new(move || Status::of(&ready).ready());
            let server = Server::bind(engines, prepared, options)
                .await?
                .reload_with(reloader)
                .ready_when(check);
            let addr = wasmhub_http::print_addresses(&server)?;
            let me = Identity {
                addr: addr.to_string(),
                ..me
            };
            let reload = server.reload_handle().expect("a reloader was given");
            let (l, s, a) = (links.clone(), status.clone(), app_name);
            tokio::spawn(follow::follow(l, files, a, s, reload));
            tokio::spawn(follow::heartbeat(links.clone(), me.clone(), status.clone()));
            let stopping = status.clone();
            let shutdown = async move {
                wasmhub_http::shutdown_signal().await;
                tracing::info!("stopping: unready for {grace:?}, then draining");
                Status::of(&stopping).draining = true;
                tokio::time::sleep(grace).await;
            };
            server.run(shutdown).await?;
            let (links, id) = (links.clone(), me.id.clone());
            on_nats(async move {
                if let Ok(kv) = wasmhub_cluster::hosts::bucket(&links.js, links.replicas).await {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        wasmhub_cluster::hosts::leave(&kv, &id),
                    )
                    .await;
                }
            });
            Ok::<_, anyhow::Error>(())
        })?;
        Ok(0)
    }
}
