//! `wasmhub serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use wasmhub_core::{EngineKind, Engines, Metering};
use wasmhub_http::ServeOptions;

use crate::budget::ServeBudgetFlags;
use crate::common::{CacheFlags, GrantFlags, IsolationFlag, StrictFlag, WasiFlag, load_app_in};

/// Serve wasi:http components: one component, or an app manifest (wasmhub.toml or spin.toml).
///
/// Every request gets a fresh, isolated instance unless a component opts into reuse
/// (`--reuse N`, or `reuse = N` in the manifest): then one instance serves up to N
/// requests and state can carry from one request to the next. A lone component is served on every
/// path with the grants given here (default: none); a manifest routes paths to its
/// components, each with the grants it declares. Guest stdout/stderr go to the log with
/// the request id. Stops on SIGINT/SIGTERM after draining in-flight requests. Reloads
/// the app (the manifest, or the component with these flags) on SIGHUP and on
/// `POST /-/reload` at --admin-addr, without dropping a request or a connection.
#[derive(Parser)]
pub struct ServeCommand {
    #[command(flatten)]
    grants: GrantFlags,
    #[command(flatten)]
    state: crate::common::StateFlags,
    #[command(flatten)]
    cache: CacheFlags,
    #[command(flatten)]
    wasi: WasiFlag,
    #[command(flatten)]
    strict: StrictFlag,
    #[command(flatten)]
    budget: ServeBudgetFlags,
    #[command(flatten)]
    isolation: IsolationFlag,
    /// Let one instance of a lone component serve up to N requests (default 1: a fresh
    /// instance per request). State left in the instance then carries from one request to
    /// the next; an instance that fails is never reused. Manifests: reuse = N.
    #[arg(long, value_name = "N")]
    reuse: Option<wasmhub_app::Reuse>,
    /// How long an idle instance of a component with reuse is kept for its next request.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    reuse_idle: Duration,
    /// Address to listen on; port 0 picks a free port (printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Instances alive at once; beyond it requests get 503 with Retry-After.
    #[arg(long, default_value_t = 1000)]
    max_instances: u32,
    /// Instances of one component at once, where its budget sets no `instances`
    /// [default: all of --max-instances for one routed component, half when there are more].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_component_instances: Option<u32>,
    /// Wall-clock limit per request, e.g. 30s or 500ms; past it the client gets 504.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Largest request body in bytes; larger ones get 413.
    #[arg(long, default_value_t = 1 << 30)]
    max_body_bytes: u64,
    /// Largest request head in bytes; larger ones get 431.
    #[arg(long, default_value_t = 64 << 10)]
    max_header_bytes: usize,
    /// Time a connection may go with no request in flight (HTTP/1 and HTTP/2), e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// Open connections at once; further clients wait until one closes.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Serve Prometheus metrics at http://ADDR/metrics. Default: no metrics listener.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// Serve the admin routes (`POST /-/reload`) at http://ADDR; loopback only unless
    /// --admin-allow-remote. Default: no admin listener (SIGHUP still reloads).
    #[arg(long, value_name = "ADDR")]
    admin_addr: Option<SocketAddr>,
    /// Let --admin-addr be an address other than loopback (anyone who reaches it can reload).
    #[arg(long, requires = "admin_addr")]
    admin_allow_remote: bool,
    /// Restart a tenant's worker process (isolation = "process") after it has been sent
    /// N requests. Default: never.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    recycle_after: Option<u64>,
    /// A component (.wasm) or an app manifest (.toml).
    target: PathBuf,
}

impl ServeCommand {
    /// Serves until a signal arrives.
    pub fn execute(self) -> Result<i32> {
        let (mut options, load, cache) = self.into_parts()?;
        // Components with isolation = "process" (now or after a reload) run in workers.
        options.workers = Some(crate::worker::launcher());
        let app = load()?;
        if app
            .components
            .iter()
            .any(|c| c.isolation == wasmhub_app::Isolation::Process)
        {
            // The sandbox's namespaces, id switch and cgroups need root.
            wasmhub_sandbox::require_root()?;
        }
        let metering = Metering::for_app(&app);
        // The async runtime starts its threads while the engines reserve their pools.
        let (engines, rt) = std::thread::scope(|s| {
            let rt = s.spawn(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
            });
            let engines = Engines::build(&app, metering, |metering| {
                cache.engine(EngineKind::Serve {
                    max_instances: options.max_instances,
                    metering,
                })
            });
            let rt = rt.join().expect("the runtime builder does not panic");
            (engines, rt)
        });
        let (engines, rt) = (engines?, rt?);
        let reloader = wasmhub_http::Reloader::new(load, cache.cache(), metering);
        let prepared = reloader.prepare_first(&engines, app, &options)?;
        tracing::info!("{}", engines.describe());
        tracing::info!(
            "memory reset between requests: {}",
            wasmhub_core::reset_mode()
        );
        rt.block_on(wasmhub_http::serve(
            engines,
            prepared,
            options,
            Some(reloader),
        ))?;
        Ok(0)
    }

    /// What `serve` shares with its reloads: the options, how the app is read (at start
    /// and at each reload: the manifest, or the component and flags) and the compile cache.
    pub fn into_parts(self) -> Result<(ServeOptions, wasmhub_http::LoadApp, CacheFlags)> {
        let (options, source, cache) = self.split()?;
        let load = move || source.read(&mut wasmhub_app::Texts::from_disk());
        Ok((options, Box::new(load), cache))
    }

    /// What a tenant's worker starts from: the options, the app of its server's generation
    /// (read from the manifest `texts` the server parsed, never from the disk) and the
    /// compile cache.
    pub fn into_worker_parts(
        self,
        texts: wasmhub_app::Texts,
    ) -> Result<(ServeOptions, wasmhub_app::App, CacheFlags)> {
        let (options, source, cache) = self.split()?;
        let app = source.read(&mut { texts })?;
        Ok((options, app, cache))
    }

    fn split(self) -> Result<(ServeOptions, AppSource, CacheFlags)> {
        self.state.apply()?;
        let options = ServeOptions {
            addr: self.addr,
            max_instances: self.max_instances,
            max_component_instances: self.max_component_instances,
            request_timeout: self.request_timeout,
            max_body_bytes: self.max_body_bytes,
            max_header_bytes: self.max_header_bytes,
            metrics_addr: self.metrics_addr,
            admin_addr: self.admin_addr,
            admin_remote: self.admin_allow_remote,
            header_timeout: self.header_timeout,
            max_connections: self.max_connections.max(1),
            recycle_after: self.recycle_after,
            reuse_idle: self.reuse_idle,
            ..ServeOptions::default()
        };
        let source = AppSource {
            target: self.target,
            grants: self.grants,
            strict: self.strict,
            wasi: self.wasi,
            budget: self.budget,
            isolation: self.isolation,
            reuse: self.reuse,
        };
        Ok((options, source, self.cache))
    }
}

/// What `serve` reads its app from: the manifest, or the component and flags.
struct AppSource {
    target: PathBuf,
    grants: GrantFlags,
    strict: StrictFlag,
    wasi: WasiFlag,
    budget: ServeBudgetFlags,
    isolation: IsolationFlag,
    reuse: Option<wasmhub_app::Reuse>,
}

impl AppSource {
    /// The app, its manifest texts from `texts`.
    fn read(&self, texts: &mut wasmhub_app::Texts) -> Result<wasmhub_app::App> {
        let target = &self.target;
        let mut app = load_app_in(texts, target, self.grants.clone())?;
        self.strict.apply(&mut app);
        self.budget.apply(&mut app);
        self.isolation.apply(&mut app);
        if self.wasi.is_wasi3() {
            if crate::graph::is_manifest(target) {
                anyhow::bail!(
                    "--wasi applies to a lone component; opt a manifest's components in \
                     with wasi = \"0.3\" under [component.NAME] in {}",
                    target.display()
                );
            }
            app.components[0].wasi = wasmhub_app::WasiVersion::P3;
        }
        if let Some(reuse) = self.reuse {
            if crate::graph::is_manifest(target) {
                anyhow::bail!(
                    "--reuse applies to a lone component; let a manifest's component reuse \
                     its instances with reuse = N under [component.NAME] in {}",
                    target.display()
                );
            }
            app.components[0].reuse = reuse;
        }
        Ok(app)
    }
}

/// `30s`, `500ms`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| {
        format!("`{s}` is not a duration: write a number and a unit, e.g. 30s or 500ms")
    })?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!(
            "`{s}` has an unknown unit `{unit}`: use ms, s or m"
        )),
    }
}
