//! The listener: HTTP/1.1 keep-alive and HTTP/2 cleartext, graceful shutdown, epoch ticker,
//! and the triggers of a reload (SIGHUP, the admin listener).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use wasmhub_core::Engines;

use crate::health::{Health, ReadyCheck};
use crate::reload::{ReloadHandle, Reloader};
use crate::shared::Shared;
use crate::{PreparedApp, ServeOptions};

/// A bound server, not yet accepting.
pub struct Server {
    listener: TcpListener,
    metrics: Option<TcpListener>,
    admin: Option<TcpListener>,
    reloader: Option<Arc<Reloader>>,
    health: Arc<Health>,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds the address; the app has already been checked, so binding is the last step that can fail.
    pub async fn bind(
        engine: impl Into<Engines>,
        app: PreparedApp,
        options: ServeOptions,
    ) -> Result<Self> {
        let listener = TcpListener::bind(options.addr)
            .await
            .with_context(|| format!("cannot listen on {}; pick another --addr", options.addr))?;
        let metrics = match options.metrics_addr {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
                format!("cannot listen on {addr} for metrics; pick another --metrics-addr")
            })?),
            None => None,
        };
        let admin = match options.admin_addr {
            Some(addr) => Some(bind_admin(addr, options.admin_remote).await?),
            None => None,
        };
        Ok(Self {
            listener,
            metrics,
            admin,
            reloader: None,
            health: Arc::default(),
            shared: Arc::new(Shared::new(engine, app, options)),
        })
    }

    /// Reloads the app with `reloader` on SIGHUP and on `POST /-/reload` (admin listener).
    pub fn reload_with(mut self, reloader: Reloader) -> Self {
        self.reloader = Some(Arc::new(reloader));
        self
    }

    /// Answers `GET /-/health` (admin listener) with 200 only while `check` passes and the
    /// server is not draining.
    pub fn ready_when(mut self, check: ReadyCheck) -> Self {
        self.health = Arc::new(Health::new(Some(check)));
        self
    }

    /// Reloads this server on demand, if it was given a reloader.
    pub fn reload_handle(&self) -> Option<ReloadHandle> {
        let reloader = self.reloader.clone()?;
        Some(ReloadHandle::new(reloader, self.shared.clone()))
    }

    /// The admin address, if one was asked for.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address actually bound (port 0 resolved).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The metrics address, if one was asked for.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Accepts connections until `shutdown` resolves, then drains in-flight requests.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<()> {
        for engine in self.shared.engines.all() {
            wasmhub_core::ensure_ticking(engine);
        }
        // Tenants in worker processes start now rather than on their first request.
        for served in self.shared.generation().app.served.iter().flatten() {
            if let crate::prepared::Handler::Worker(pool) = &served.handler {
                pool.start();
            }
        }
        if let Some(listener) = self.metrics.take() {
            tokio::spawn(crate::metrics_server::serve(
                listener,
                self.shared.metrics.clone(),
                self.shared
                    .options
                    .workers
                    .as_ref()
                    .map(|l| l.reports().clone()),
                self.shared.options.header_timeout,
            ));
        }
        if let Some(listener) = self.admin.take() {
            let (shared, reloader) = (self.shared.clone(), self.reloader.clone());
            let health = self.health.clone();
            tokio::spawn(crate::admin::serve(listener, shared, reloader, health));
        }
        if let Some(reloader) = &self.reloader {
            reload_on_hangup(reloader.clone(), self.shared.clone())?;
        }
        let mut builder = auto::Builder::new(TokioExecutor::new());
        let max_header = self.shared.options.max_header_bytes;
        // A client may send its request and shut its write side while it waits for the answer
        // (found by fuzzing: without this, hyper drops such a request unanswered).
        builder
            .http1()
            .max_buf_size(max_header.max(8192))
            .half_close(true)
            .timer(TokioTimer::new())
            .header_read_timeout(self.shared.options.header_timeout);
        builder
            .http2()
            .max_header_list_size(u32::try_from(max_header).unwrap_or(u32::MAX));
        tokio::pin!(shutdown);
        let connections = Arc::new(Semaphore::new(self.shared.options.max_connections));
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        loop {
            // At the connection limit, stop accepting until a connection ends.
            let permit = tokio::select! {
                permit = connections.clone().acquire_owned() => permit?,
                () = &mut shutdown => break,
            };
            let stream = tokio::select! {
                accepted = crate::listen::accept(&self.listener) => match accepted {
                    Some(stream) => stream,
                    None => continue,
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let (builder, shared, stopped) =
                (builder.clone(), self.shared.clone(), stopped.clone());
            tokio::spawn(async move {
                let _permit = permit;
                crate::connection::serve(stream, builder, shared, stopped).await;
            });
        }
        self.health.drain();
        let _ = stopping.send(true);
        let drain = self.shared.options.drain_timeout;
        tracing::info!("shutting down: draining in-flight requests (up to {drain:?})");
        // Every connection holds a permit until it ends: holding them all means all ended.
        let all = u32::try_from(self.shared.options.max_connections).unwrap_or(u32::MAX);
        if tokio::time::timeout(drain, connections.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("drain timeout reached; closing remaining connections");
        }
        Ok(())
    }
}

/// Binds, prints the address, and serves until SIGINT or SIGTERM; with a `reloader`,
/// reloads on SIGHUP and on the admin listener's `POST /-/reload`.
pub async fn serve(
    engine: impl Into<Engines>,
    app: PreparedApp,
    options: ServeOptions,
    reloader: Option<Reloader>,
) -> Result<()> {
    serve_then(engine, app, options, reloader, |_| ()).await
}

/// [`serve`], handing `ready` a [`ReloadHandle`] (with a `reloader`) once the address is
/// printed, before the first connection is accepted.
pub async fn serve_then(
    engine: impl Into<Engines>,
    app: PreparedApp,
    options: ServeOptions,
    reloader: Option<Reloader>,
    ready: impl FnOnce(Option<ReloadHandle>),
) -> Result<()> {
    let mut server = Server::bind(engine, app, options).await?;
    if let Some(reloader) = reloader {
        server = server.reload_with(reloader);
    }
    print_addresses(&server)?;
    ready(server.reload_handle());
    server.run(shutdown_signal()).await
}

/// Prints the routes, the side listeners' addresses, then `listening on http://ADDR`.
pub fn print_addresses(server: &Server) -> Result<SocketAddr> {
    let addr = server.local_addr()?;
    for (name, route) in server.routes() {
        println!("route {route} -> {name}");
    }
    if let Some(m) = server.metrics_addr() {
        println!("metrics on http://{m}/metrics");
    }
    if let Some(a) = server.admin_addr() {
        println!("admin on http://{a}/-/reload");
    }
    println!("listening on http://{addr}");
    Ok(addr)
}

impl Server {
    fn routes(&self) -> Vec<(String, String)> {
        self.shared
            .generation()
            .app
            .served
            .iter()
            .flatten()
            .map(|s| (s.name.to_string(), s.route.clone()))
            .collect()
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Binds the admin listener: loopback only, unless `remote` allows any address.
async fn bind_admin(addr: SocketAddr, remote: bool) -> Result<TcpListener> {
    if !addr.ip().is_loopback() && !remote {
        anyhow::bail!(
            "--admin-addr {addr} is not a loopback address: the admin listener can reload the \
             app, so it listens on 127.0.0.1 or [::1] unless --admin-allow-remote is given"
        );
    }
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for the admin routes; pick another --admin-addr")
    })
}

/// Reloads the app on each SIGHUP (the reload logs its outcome).
fn reload_on_hangup(reloader: Arc<Reloader>, shared: Arc<Shared>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            let _ = reloader.reload(&shared).await;
        }
    });
    Ok(())
}
