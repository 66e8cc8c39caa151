//! One worker process: a socket pair, the child's end inherited as a fixed descriptor, the
//! process started in the sandbox's namespaces and its tenant's cgroup.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use tokio::sync::oneshot;
use wasmhub_sandbox::{Policy, TenantCgroup};

use super::Launcher;
use super::outbound::Reach;
use super::outbound::WORKER_OUTBOUND_FD;

/// The descriptor a worker finds its socket on.
pub const WORKER_SOCKET_FD: i32 = 3;

/// The memory (RAM, no swap) all of one tenant's workers may use together; past it the
/// kernel's OOM killer ends a worker, whose requests fail (502) before it is respawned.
pub const TENANT_MEMORY_LIMIT: u64 = 1 << 30;

/// The tasks (keepers, workers and their threads: main, epoch ticker, blocking pool) all of
/// one tenant's workers may have together; past it a fork or a new thread fails.
pub const TENANT_MAX_TASKS: u64 = 256;

/// The variable a worker finds its sandbox's name in (see [`sandbox_name`]).
pub const WORKER_SANDBOX_ENV: &str = "WASMHUB_WORKER_SANDBOX";

/// The name of this server's sandbox for `tenant` (its cgroup `wasmhub/NAME` and the host
/// uid derived from it): the server's pid and the tenant, so two servers with a tenant of
/// the same name never share limits, a uid, or a cgroup one of them removes.
pub fn sandbox_name(tenant: &str) -> String {
    format!("{}-{tenant}", std::process::id())
}

/// The sandbox policy named `name` ([`sandbox_name`]): the same on the server's side (which
/// starts workers with it) and in the worker (which enters it, reading the name from
/// [`WORKER_SANDBOX_ENV`]). Keeps descriptors 0 and 1 (the server's stdin and stdout for a
/// tenant granted them, else /dev/null: [`spawn`] decides), 2 (the log) and the sockets.
/// With `sockets` (its tenant is granted some, [`super::WORKER_SOCKETS_ENV`]), its socket
/// calls go to the server over its outbound socket.
pub fn worker_policy(name: &str, sockets: bool) -> Policy {
    let mut policy = Policy::new(name);
    policy.memory_limit_bytes = TENANT_MEMORY_LIMIT;
    policy.max_processes = TENANT_MAX_TASKS;
    policy.keep_fds = vec![0, 1, 2, WORKER_SOCKET_FD, WORKER_OUTBOUND_FD];
    policy.socket_broker = sockets.then_some(WORKER_OUTBOUND_FD);
    policy
}

/// A running worker process: its pid, and its exit status once it has ended (waited for
/// on a thread of its own).
pub(crate) struct Child {
    /// Its process id (the keeper's: the worker is its only child).
    pub(crate) pid: u32,
    /// Resolves with its exit status.
    pub(crate) exited: oneshot::Receiver<io::Result<std::process::ExitStatus>>,
    /// Its tenant's cgroup.
    cgroup: TenantCgroup,
    /// The tenant's OOM kills when it started.
    oom_kills: u64,
}

impl Child {
    /// Sends it SIGKILL (it is still unreaped while `exited` has not resolved).
    pub(crate) fn kill(&self) {
        if let Ok(pid) = libc::pid_t::try_from(self.pid) {
            // SAFETY: plain syscall; the pid is ours and unreaped until its waiter returns.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// True if the tenant's memory limit ended a process since this one started.
    pub(crate) fn out_of_memory(&self) -> bool {
        self.cgroup.oom_kills().is_ok_and(|n| n > self.oom_kills)
    }

    /// Removes the tenant's cgroup once its processes are gone; left in place (and
    /// reused) while another generation's worker of the tenant still runs in it.
    pub(crate) async fn remove_cgroup(self) {
        let Child { pid, cgroup, .. } = self;
        // The worker dies with its keeper, a moment later.
        for _ in 0..50 {
            if cgroup.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if cgroup.is_empty()
            && let Err(e) = cgroup.remove()
        {
            tracing::debug!(pid, error = %e, "the tenant's cgroup stays");
        }
    }
}

/// Starts `tenant`'s worker: the child and the server's ends of its sockets.
///
/// This is the one place a worker process is configured: the launcher's command, its
/// stdin and stdout (the server's own when `reach.stdio`: a component of the tenant is
/// granted them; else /dev/null), whether its socket calls come to the server
/// (`reach.sockets`), its socket, a parent-death signal (a worker never
/// outlives its server), and the sandbox: the tenant's cgroup (created, limits set) and its
/// namespaces (`wasmhub_sandbox::configure`; the worker enters the rest itself). Needs root.
pub(crate) fn spawn(launcher: &Launcher, tenant: &str, reach: &Reach) -> io::Result<Spawned> {
    let name = sandbox_name(tenant);
    let sockets = reach.sockets.is_some();
    let policy = worker_policy(&name, sockets);
    let cgroup = TenantCgroup::create(&policy).map_err(io::Error::other)?;
    let oom_kills = cgroup.oom_kills().unwrap_or(0);
    let (ours, theirs) = UnixStream::pair()?;
    let (outbound, their_outbound) = UnixStream::pair()?;
    let theirs: OwnedFd = theirs.into();
    let their_outbound: OwnedFd = their_outbound.into();
    let fds = [
        (theirs.as_raw_fd(), WORKER_SOCKET_FD),
        (their_outbound.as_raw_fd(), WORKER_OUTBOUND_FD),
    ];
    let mut cmd = launcher.command(tenant);
    cmd.env(WORKER_SANDBOX_ENV, &name);
    if sockets {
        cmd.env(super::WORKER_SOCKETS_ENV, "1");
    }
    // Kept through `enter` (`worker_policy`), so only what the tenant is granted.
    let stdio = || {
        if reach.stdio {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        }
    };
    cmd.stdin(stdio()).stdout(stdio());
    // SAFETY: between fork and exec only async-signal-safe calls: prctl.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            // The keeper (this process, after the sandbox's fork below) dies with the server.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    wasmhub_sandbox::configure(&mut cmd, &policy, Some(&cgroup)).map_err(io::Error::other)?;
    // SAFETY: between fork and exec only async-signal-safe calls: fcntl, dup2, fstat.
    // Registered after the sandbox's: runs in the worker itself, just before exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            // Each socket to its fixed descriptor: first out of the way of both targets,
            // then there (dup2 leaves the copy open across exec).
            let mut high = [0; 2];
            for (i, (fd, _)) in fds.iter().enumerate() {
                high[i] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 10);
                if high[i] < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            for (i, (_, target)) in fds.iter().enumerate() {
                if libc::dup2(high[i], *target) < 0 {
                    return Err(io::Error::last_os_error());
                }
                let mut st: libc::stat = std::mem::zeroed();
                if libc::fstat(*target, &mut st) < 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK
                {
                    return Err(io::Error::from_raw_os_error(libc::ENOTSOCK));
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    drop((theirs, their_outbound));
    ours.set_nonblocking(true)?;
    outbound.set_nonblocking(true)?;
    let pid = child.id();
    let (tx, exited) = oneshot::channel();
    std::thread::Builder::new()
        .name(format!("wasmhub-worker-{pid}"))
        .spawn(move || {
            let _ = tx.send(child.wait());
        })?;
    let child = Child {
        pid,
        exited,
        cgroup,
        oom_kills,
    };
    Ok(Spawned {
        child,
        socket: ours,
        outbound,
    })
}

/// A started worker and the server's ends of its sockets.
pub(crate) struct Spawned {
    /// The process.
    pub(crate) child: Child,
    /// Requests to it.
    pub(crate) socket: UnixStream,
    /// Its guests' outgoing requests, to the server.
    pub(crate) outbound: UnixStream,
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    /// What `tenant`'s "worker" (a shell, started as `spawn` starts workers) finds on its
    /// descriptors 0 and 1, written back on its socket.
    async fn stdio_of_a_worker(tenant: &str, server_stdio: bool) -> String {
        let launcher = Launcher::new(|_| {
            let mut cmd = std::process::Command::new("/bin/sh");
            cmd.args([
                "-c",
                "exec 5>&1; readlink /proc/self/fd/0 /proc/self/fd/5 >&3",
            ]);
            cmd
        });
        let reach = Reach {
            stdio: server_stdio,
            ..Reach::default()
        };
        let spawned = spawn(&launcher, tenant, &reach).unwrap();
        let mut socket = tokio::net::UnixStream::from_std(spawned.socket).unwrap();
        let mut out = String::new();
        let read = socket.read_to_string(&mut out);
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .unwrap()
            .unwrap();
        let mut child = spawned.child;
        let _ = (&mut child.exited).await;
        child.remove_cgroup().await;
        out
    }

    #[tokio::test]
    async fn a_worker_gets_the_servers_stdin_and_stdout_only_when_its_tenant_is_granted_them() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            println!("skipped: workers are started by root");
            return;
        }
        let ungranted = stdio_of_a_worker("stdio-test-no", false).await;
        assert_eq!(ungranted, "/dev/null\n/dev/null\n");
        let ours: String = [0, 1]
            .map(|fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap())
            .iter()
            .map(|p| format!("{}\n", p.display()))
            .collect();
        let granted = stdio_of_a_worker("stdio-test-yes", true).await;
        assert_eq!(granted, ours, "the server's own stdin and stdout");
    }
}
