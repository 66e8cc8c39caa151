//! A tenant's worker: started on its first request, respawned with backoff when it dies
//! (its in-flight requests fail, no one else's), recycled after N requests, and let go
//! (it finishes its requests, reports its counts a last time, then exits) when its
//! generation of the app is dropped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use wasmtime_wasi_http::p2::body::HyperIncomingBody;

use wasmhub_app::App;

use super::Launcher;
use super::kv::TenantStores;
use super::outbound::Reach;
use super::report::Reporter;
use super::snapshot::{Code, Snapshot};
use super::spawn::Child;

/// The first wait before a respawn; doubled for each worker that dies young.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait before a respawn.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A worker that lived this long resets the backoff.
const HEALTHY: Duration = Duration::from_secs(10);
/// How long a request waits for a worker to come (back) up.
const START_WAIT: Duration = Duration::from_secs(30);
/// How long a worker that is let go may take to finish its requests and exit.
const LET_GO_LIMIT: Duration = Duration::from_secs(60);

/// Why a request did not reach its worker or did not come back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PoolError {
    /// No worker came up in time.
    #[error("no worker of tenant \"{0}\" came up within {START_WAIT:?}")]
    NoWorker(Arc<str>),
    /// The connection to the worker failed (it died, or was killed, mid-request).
    #[error("the worker of tenant \"{tenant}\" (pid {pid}) failed the request")]
    Lost {
        /// The tenant.
        tenant: Arc<str>,
        /// The worker's process id.
        pid: u32,
        /// What hyper saw.
        #[source]
        source: hyper::Error,
    },
}

/// One worker's connection.
#[derive(Clone)]
struct Conn {
    sender: SendRequest<HyperIncomingBody>,
    pid: u32,
    served: Arc<AtomicU64>,
    /// Cloned into each request's [`InFlight`].
    busy: mpsc::Sender<Infallible>,
}

/// Held by a request to a worker until its response body ends: a worker that is let go
/// reports its counts a last time once no request holds it (and its connection is no
/// longer published for new ones).
pub(crate) struct InFlight {
    _busy: mpsc::Sender<Infallible>,
}

/// The supervisor's hold on its running worker, for letting it go.
struct Worker {
    /// Ends (`None`) once neither a request nor the published connection holds the worker.
    idle: mpsc::Receiver<Infallible>,
    /// Its place among the reporting workers.
    report: Reporter,
}

struct Inner {
    tenant: Arc<str>,
    /// What its workers serve (removed with the pool).
    _snapshot: Snapshot,
    launcher: Launcher,
    recycle_after: Option<u64>,
    /// What its guests may ask the server for (the union of its components' grants).
    reach: Arc<Reach>,
    /// Its components' names (the denials its reports may count).
    components: Arc<[String]>,
    conn: watch::Sender<Option<Conn>>,
    recycle: Notify,
}

/// A tenant's worker process, supervised.
pub struct Pool {
    inner: Arc<Inner>,
    /// Taken by the supervising task when it starts; its sender's drop stops it.
    stop: Mutex<Option<oneshot::Receiver<()>>>,
    _stopper: oneshot::Sender<()>,
}

impl Pool {
    fn new(
        tenant: &str,
        snapshot: Snapshot,
        launcher: Launcher,
        recycle_after: Option<u64>,
        reach: Arc<Reach>,
        components: Arc<[String]>,
    ) -> Self {
        let (stopper, stop) = oneshot::channel();
        Self {
            inner: Arc::new(Inner {
                tenant: tenant.into(),
                launcher: launcher.with_snapshot(&snapshot),
                _snapshot: snapshot,
                recycle_after,
                reach,
                components,
                conn: watch::Sender::new(None),
                recycle: Notify::new(),
            }),
            stop: Mutex::new(Some(stop)),
            _stopper: stopper,
        }
    }

    /// The tenant it runs.
    pub(crate) fn tenant(&self) -> &str {
        &self.inner.tenant
    }

    /// Starts the supervising task, once (the first request, or the server's start).
    pub(crate) fn start(&self) {
        let stop = self.stop.lock().ok().and_then(|mut s| s.take());
        if let Some(stop) = stop {
            tokio::spawn(supervise(self.inner.clone(), stop));
        }
    }

    /// Sends `req` to the worker (waiting for one to come up) and returns its response,
    /// with the hold on the worker to keep until the response body ends.
    pub(crate) async fn send(
        &self,
        req: Request<HyperIncomingBody>,
    ) -> Result<(Response<Incoming>, InFlight), PoolError> {
        self.start();
        let mut rx = self.inner.conn.subscribe();
        let wait = async {
            let conn = rx.wait_for(Option::is_some).await.ok()?;
            conn.clone()
        };
        let Ok(Some(conn)) = tokio::time::timeout(START_WAIT, wait).await else {
            return Err(PoolError::NoWorker(self.inner.tenant.clone()));
        };
        let n = conn.served.fetch_add(1, Ordering::Relaxed) + 1;
        if self.inner.recycle_after == Some(n) {
            self.inner.recycle.notify_one();
        }
        let Conn {
            mut sender,
            pid,
            busy,
            ..
        } = conn;
        let lost = |source| PoolError::Lost {
            tenant: self.inner.tenant.clone(),
            pid,
            source,
        };
        sender.ready().await.map_err(lost)?;
        let resp = sender.send_request(req).await.map_err(lost)?;
        Ok((resp, InFlight { _busy: busy }))
    }
}

/// One pool per tenant, for one generation of the app.
#[derive(Default)]
pub(crate) struct Pools(HashMap<String, Arc<Pool>>);

impl Pools {
    /// `tenant`'s pool in `app`, made on first use: its workers serve `app` with `code`
    /// (each component's, as the server loaded it), written to their snapshot.
    pub(crate) fn get(
        &mut self,
        app: &App,
        tenant: &str,
        launcher: &Launcher,
        recycle_after: Option<u64>,
        code: &HashMap<String, Code>,
    ) -> anyhow::Result<Arc<Pool>> {
        if let Some(pool) = self.0.get(tenant) {
            return Ok(pool.clone());
        }
        let snapshot = launcher.snapshots().write(app, tenant, code)?;
        let pool = self
            .0
            .entry(tenant.to_owned())
            .or_insert_with(|| {
                let members = app.tenant_members(tenant);
                let reach = Reach {
                    rules: members
                        .iter()
                        .flat_map(|&i| app.components[i].grants.outbound.iter())
                        .map(|g| g.value.clone())
                        .collect(),
                    stores: TenantStores::of(app, tenant),
                    stdio: members
                        .iter()
                        .any(|&i| app.components[i].grants.inherit_stdio),
                    sockets: super::sockets::tenant_sockets(
                        members.iter().map(|&i| &app.components[i]),
                    ),
                };
                let components = members
                    .iter()
                    .map(|&i| app.components[i].name.clone())
                    .collect();
                let launcher = launcher.clone();
                Arc::new(Pool::new(
                    tenant,
                    snapshot,
                    launcher,
                    recycle_after,
                    Arc::new(reach),
                    components,
                ))
            })
            .clone();
        Ok(pool)
    }
}

/// How one worker's life ended.
enum End {
    Exited(std::io::Result<std::process::ExitStatus>),
    Recycle,
    Stop,
}

/// Keeps one worker running for `inner` until `stop` fires.
async fn supervise(inner: Arc<Inner>, mut stop: oneshot::Receiver<()>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let born = Instant::now();
        let (mut child, worker) = match start(&inner).await {
            Ok(started) => started,
            Err(e) => {
                tracing::error!(tenant = %inner.tenant, error = ?e, "cannot start a worker; retrying in {backoff:?}");
                if sleep_or_stop(backoff, &mut stop).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let pid = child.pid;
        let end = tokio::select! {
            status = &mut child.exited => End::Exited(status.unwrap_or_else(|_| Err(std::io::ErrorKind::Other.into()))),
            () = inner.recycle.notified() => End::Recycle,
            _ = &mut stop => End::Stop,
        };
        match end {
            End::Exited(status) => {
                inner.conn.send_if_modified(|c| take_if(c, pid));
                // What it last reported stays counted, none of its instances live.
                drop(worker);
                let oom = child.out_of_memory();
                let how = status.map_or_else(|e| e.to_string(), |s| describe(s, oom));
                if born.elapsed() >= HEALTHY {
                    backoff = MIN_BACKOFF;
                }
                tracing::warn!(tenant = %inner.tenant, pid, "worker ended ({how}); its in-flight requests failed; respawning in {backoff:?}");
                if sleep_or_stop(backoff, &mut stop).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            End::Recycle => {
                tracing::info!(tenant = %inner.tenant, pid, "recycling the worker after {} requests", inner.recycle_after.unwrap_or(0));
                // The next worker takes over below; this one finishes its requests and
                // exits once its connection is let go.
                tokio::spawn(let_go(child, worker));
            }
            End::Stop => {
                inner.conn.send_replace(None);
                let_go(child, worker).await.remove_cgroup().await;
                return;
            }
        }
    }
}

/// Spawns a worker, connects to it, has it report, and publishes the connection.
async fn start(inner: &Inner) -> anyhow::Result<(Child, Worker)> {
    let super::spawn::Spawned {
        child,
        socket,
        outbound,
    } = super::spawn::spawn(&inner.launcher, &inner.tenant, &inner.reach)?;
    tokio::spawn(super::outbound::serve(
        outbound,
        inner.reach.clone(),
        inner.tenant.clone(),
    ));
    let io = TokioIo::new(tokio::net::UnixStream::from_std(socket)?);
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(16 << 20)
        .handshake(io)
        .await?;
    let pid = child.pid;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(pid, error = %e, "worker connection ended");
        }
    });
    let served = Arc::default();
    let report = inner
        .launcher
        .reports()
        .join(sender.clone(), inner.components.clone());
    let (busy, idle) = mpsc::channel(1);
    inner.conn.send_replace(Some(Conn {
        sender,
        pid,
        served,
        busy,
    }));
    Ok((child, Worker { idle, report }))
}

/// Clears the published connection if it is still `pid`'s.
fn take_if(conn: &mut Option<Conn>, pid: u32) -> bool {
    if conn.as_ref().is_some_and(|c| c.pid == pid) {
        *conn = None;
        return true;
    }
    false
}

/// Lets a worker go once its connection is no longer published: it finishes its requests,
/// reports its counts a last time, and exits when its connection is dropped; killed if it
/// has not within [`LET_GO_LIMIT`] (then its previous report stands). Returns it, ended.
async fn let_go(mut child: Child, worker: Worker) -> Child {
    let Worker { mut idle, report } = worker;
    let last = async {
        let _ = idle.recv().await;
        report.last().await;
        std::future::pending::<()>().await
    };
    let ended = async {
        tokio::select! {
            _ = &mut child.exited => {}
            () = last => {}
        }
    };
    if tokio::time::timeout(LET_GO_LIMIT, ended).await.is_err() {
        child.kill();
        let _ = (&mut child.exited).await;
    }
    child
}

/// Sleeps `wait`; true if `stop` fired first.
async fn sleep_or_stop(wait: Duration, stop: &mut oneshot::Receiver<()>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(wait) => false,
        _ = stop => true,
    }
}

/// `exit status 1`, or `killed by signal 9 (SIGKILL)` (the keeper ends as its worker did;
/// `oom`: the tenant's memory limit ended a process meanwhile).
fn describe(status: std::process::ExitStatus, oom: bool) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(libc::SIGKILL)) if oom => {
            "killed by signal 9 (SIGKILL: out of memory, the tenant's memory limit)".to_string()
        }
        (None, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
        _ => status.to_string(),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGSYS => "SIGSYS: a system call the sandbox forbids",
        libc::SIGBUS => "SIGBUS",
        libc::SIGTERM => "SIGTERM",
        _ => "another signal",
    }
}
