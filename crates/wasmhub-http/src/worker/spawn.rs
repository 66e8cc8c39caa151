//! One worker process: a socket pair, the child's end inherited as a fixed descriptor.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use tokio::sync::oneshot;

use super::Launcher;

/// The descriptor a worker finds its socket on.
pub const WORKER_SOCKET_FD: i32 = 3;

/// A running worker process: its pid, and its exit status once it has ended (waited for
/// on a thread of its own).
pub(crate) struct Child {
    /// Its process id.
    pub(crate) pid: u32,
    /// Resolves with its exit status.
    pub(crate) exited: oneshot::Receiver<io::Result<std::process::ExitStatus>>,
}

impl Child {
    /// Sends it SIGKILL (it is still unreaped while `exited` has not resolved).
    pub(crate) fn kill(&self) {
        if let Ok(pid) = libc::pid_t::try_from(self.pid) {
            // SAFETY: plain syscall; the pid is ours and unreaped until its waiter returns.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Starts `tenant`'s worker; the server's end of its socket and the child.
///
/// This is the one place a worker process is configured: the launcher's command, its
/// socket, and a parent-death signal (a worker never outlives its server). The sandbox's
/// namespaces and cgroup are added to `cmd` here.
pub(crate) fn spawn(launcher: &Launcher, tenant: &str) -> io::Result<(Child, UnixStream)> {
    let (ours, theirs) = UnixStream::pair()?;
    let theirs: OwnedFd = theirs.into();
    let fd = theirs.as_raw_fd();
    let mut cmd = launcher.command(tenant);
    // SAFETY: between fork and exec only async-signal-safe calls: dup2, fcntl, prctl.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if fd == WORKER_SOCKET_FD {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(fd, WORKER_SOCKET_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    drop(theirs);
    ours.set_nonblocking(true)?;
    let pid = child.id();
    let (tx, exited) = oneshot::channel();
    std::thread::Builder::new()
        .name(format!("wasmhub-worker-{pid}"))
        .spawn(move || {
            let _ = tx.send(child.wait());
        })?;
    Ok((Child { pid, exited }, ours))
}
