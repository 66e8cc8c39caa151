//! `wasmhub __worker`: one tenant's worker process (`isolation = "process"`), started by
//! `serve` (never by hand), and the launcher `serve` starts it with.
//!
//! Start-up, in this order (the order is what the sandbox needs):
//! 1. read its generation's app from the snapshot the server wrote for it
//!    ([`wasmhub_http::WORKER_SNAPSHOT_ENV`]: the manifest texts the server parsed, read
//!    with the same flags, never the files on disk) and keep the tenant's components;
//! 2. build the server's `Engines` (0.2 and 0.3 apart) and prepare them: the code the
//!    server compiled, mapped from the snapshot, memory pools set up, the tenant's
//!    granted directories opened (`granted`: each on an idmapped mount of its own, so the
//!    tenant's uid acts as its owner there; components granted none get no directory);
//! 3. [`lock_down`]: the process is still single-threaded here;
//! 4. only then a current-thread runtime and the epoch ticker, serving the socket the
//!    server passed as descriptor [`wasmhub_http::WORKER_SOCKET_FD`]; its guests' granted
//!    outgoing requests go to the server on [`wasmhub_http::WORKER_OUTBOUND_FD`].
//!
//! After step 3 the worker opens no socket and no file but below its granted directories
//! (relative to their descriptors; Landlock allows nothing else, and a worker with no
//! granted directory may not make a file system call at all): everything it needs is
//! already open (its code is mapped, its preopens and its sockets are descriptors). Its
//! key-value stores are the server's ([`wasmhub_http::ServerStores`]).

use std::ffi::OsString;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;

use anyhow::{Context, Result};
use clap::Parser;
use wasmhub_app::{App, Isolation};
use wasmhub_core::{EngineKind, Engines, Metering};

use crate::commands::ServeCommand;

mod granted;

/// One tenant's worker process (started by `serve` for isolation = "process").
#[derive(Parser)]
pub struct WorkerCommand {
    /// The tenant whose components this worker runs.
    #[arg(long)]
    tenant: String,
    #[command(flatten)]
    serve: ServeCommand,
}

impl WorkerCommand {
    /// Prepares the tenant's components, locks down, then serves the server's socket
    /// until the server lets it go.
    pub fn execute(self) -> Result<i32> {
        let tenant = self.tenant;
        // Before anything here opens a file (which could take a free descriptor's number).
        for fd in [
            wasmhub_http::WORKER_SOCKET_FD,
            wasmhub_http::WORKER_OUTBOUND_FD,
        ] {
            ensure_socket(fd)?;
        }
        // The server names the sandbox it made for this worker (cgroup and host uid).
        let name = std::env::var(wasmhub_http::WORKER_SANDBOX_ENV).with_context(|| {
            format!(
                "{} is not set: workers are started by serve",
                wasmhub_http::WORKER_SANDBOX_ENV
            )
        })?;
        // Its socket calls go to the server if its tenant is granted sockets (the server
        // says so, and answers only what those grants allow).
        let sockets = std::env::var_os(wasmhub_http::WORKER_SOCKETS_ENV).is_some();
        let mut policy = wasmhub_http::worker_policy(&name, sockets);
        // Granted directories are opened while preparing, idmapped for the tenant, and
        // only until lock-down.
        let granted = granted::Granted::install(policy.host_id);
        // Its guests' stores are the server's (one process owns each store's file): every
        // call goes to the server, which checks the tenant's grants again. Chosen before
        // the flags could choose another (the first choice wins).
        wasmhub_state::choose_backend(wasmhub_state::BackendChoice::External(std::sync::Arc::new(
            wasmhub_http::ServerStores,
        )));
        // Its generation's app as the server prepared it (manifest texts and compiled
        // code), never the files on disk, which may have changed since.
        let snapshot = wasmhub_http::WorkerSnapshot::from_env()?;
        let (mut options, mut app, cache) = self.serve.into_worker_parts(snapshot.texts())?;
        options.worker = true;
        keep_tenant(&mut app, &tenant)?;
        // The same engines as the server's: 0.2 components on one without concurrency
        // support, 0.3 ones on their own.
        let engines = Engines::build(&app, Metering::for_app(&app), |metering| {
            cache.engine(EngineKind::Serve {
                max_instances: options.max_instances,
                metering,
            })
        })?;
        let prepared = wasmhub_http::prepare_from_snapshot(&engines, &snapshot, app, &options)
            .with_context(|| format!("the worker of tenant \"{tenant}\" cannot prepare it"))?;
        drop(snapshot);
        // SAFETY: `serve` spawned this process with its socket at this descriptor, which
        // nothing else in this process owns.
        let socket = unsafe { UnixStream::from_raw_fd(wasmhub_http::WORKER_SOCKET_FD) };
        // SAFETY: likewise, its outbound socket.
        let outbound = unsafe { UnixStream::from_raw_fd(wasmhub_http::WORKER_OUTBOUND_FD) };
        granted.seal(&mut policy);
        lock_down(&tenant, policy)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(wasmhub_http::serve_worker(
            engines, prepared, options, socket, outbound,
        ))?;
        Ok(0)
    }
}

/// The sandbox's lock-down, entered by the worker itself: after its engine, code, memory
/// pools and preopens are set up, while it is still single-threaded (no runtime, no
/// ticker; its log goes straight to descriptor 2, no writer thread), before it serves
/// anything.
///
/// This is the one place the worker's sandbox is entered: `wasmhub_sandbox::enter` with
/// the tenant's policy (the one the server started it with, plus its granted directories):
/// the tenant's host uid in user and mount namespaces of its own, an empty root, every
/// descriptor but the log (2), the sockets ([`wasmhub_http::WORKER_SOCKET_FD`],
/// [`wasmhub_http::WORKER_OUTBOUND_FD`]) and the granted directories closed, no
/// capabilities, `no_new_privs`, Landlock (a rule per granted directory) and the seccomp
/// allowlist (file system calls only with granted directories). From here on any other
/// system call ends the worker by SIGSYS.
fn lock_down(tenant: &str, mut policy: wasmhub_sandbox::Policy) -> Result<()> {
    // Code loaded from the compile cache stays mapped from its file, whose descriptor
    // Wasmtime owns (and closes when the code is dropped): keep those open.
    policy.keep_fds.extend(mapped_file_fds());
    wasmhub_sandbox::enter(&policy)
        .with_context(|| format!("the worker of tenant \"{tenant}\" cannot lock down"))?;
    Ok(())
}

/// Fails unless descriptor `fd` is a socket (the server passes its sockets there).
fn ensure_socket(fd: i32) -> Result<()> {
    // SAFETY: fstat into a zeroed struct; a closed descriptor is an error, not UB.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let is_socket =
        unsafe { libc::fstat(fd, &mut st) } == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK;
    if !is_socket {
        let what = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map_or_else(|e| e.to_string(), |p| p.display().to_string());
        anyhow::bail!(
            "descriptor {fd} is not the server's socket but {what}: workers are started by serve"
        );
    }
    Ok(())
}

/// The descriptors open on files this process has mapped (its code from the cache).
fn mapped_file_fds() -> Vec<i32> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mapped: std::collections::HashSet<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/'))
        .collect();
    std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            mapped.contains(target.to_str()?).then_some(fd)
        })
        .collect()
}

/// Keeps `tenant`'s components routed (run in this process) and no other's.
fn keep_tenant(app: &mut App, tenant: &str) -> Result<()> {
    if app.tenant_members(tenant).is_empty() {
        anyhow::bail!("the app has no tenant \"{tenant}\" (it changed since the server read it)");
    }
    for c in &mut app.components {
        if c.tenant != tenant {
            c.route = None;
        }
        c.isolation = Isolation::InProcess;
    }
    Ok(())
}

/// How `serve` starts a tenant's worker: this binary, as `__worker --tenant NAME` with
/// the flags `serve` was given. The one place the worker's command is made (the sandbox's
/// namespaces and cgroup are added where `wasmhub_http` spawns it; it needs root).
pub fn launcher() -> wasmhub_http::Launcher {
    let exe = std::env::current_exe().unwrap_or_else(|_| "wasmhub".into());
    let serve_args: Vec<OsString> = std::env::args_os()
        .skip_while(|a| a != "serve")
        .skip(1)
        .collect();
    let log = std::env::var("WASMHUB_LOG").unwrap_or_else(|_| "info".into());
    wasmhub_http::Launcher::new(move |tenant| {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("__worker")
            .args(["--tenant", tenant])
            .args(&serve_args)
            .env("WASMHUB_LOG", &log)
            .stdin(std::process::Stdio::null())
            // Its stdout is the server's log: `serve` prints its addresses there.
            .stdout(std::process::Stdio::null());
        cmd
    })
}
