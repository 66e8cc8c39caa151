//! Starting a worker in new namespaces: [`configure`] and what runs between fork and exec.
//!
//! `CLONE_NEWPID` only moves the caller's children, so the forked child (single-threaded,
//! before exec) joins the tenant's cgroup, unshares the pid, net, ipc, uts and cgroup
//! namespaces and forks once more: the grandchild is pid 1 of the new pid namespace and
//! execs the worker; the child stays behind as its *keeper*. The keeper closes every
//! descriptor, waits for the worker and ends the same way (exit code or signal), so the
//! supervisor's `Child` reports the worker's fate; killing the keeper kills the worker
//! (`PR_SET_PDEATHSIG`). Only async-signal-safe calls run here: no allocation, no locks.
//!
//! The worker still runs as root in the host's user and mount namespaces: it must read the
//! app, its code and the compile cache (root's, not readable by others) before it locks
//! down. [`crate::enter`] drops it to the tenant's host uid and adds the user and mount
//! namespaces once everything it needs is open.

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::{Policy, SandboxError, TenantCgroup};

/// The namespaces a worker starts in: its own pids, network, ipc, hostname and cgroups.
/// (Users and mounts come in [`crate::enter`], after the worker has read what it needs.)
const NAMESPACES: libc::c_int = libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP;

/// Makes `cmd` start the worker in new pid, net, ipc, uts and cgroup namespaces, inside
/// `cgroup`, still root; the worker must then call [`crate::enter`] itself.
///
/// The spawned `Child` is the worker's keeper: its exit status is the worker's (a worker
/// killed by seccomp ends its `Child` with SIGSYS, an OOM kill with SIGKILL) and killing it
/// kills the worker. Needs root: fails with [`SandboxError::NotRoot`] otherwise.
pub fn configure(
    cmd: &mut Command,
    policy: &Policy,
    cgroup: Option<&TenantCgroup>,
) -> Result<(), SandboxError> {
    policy.validate()?;
    crate::error::require_root()?;
    let plan = Plan {
        procs: cgroup
            .map(|c| {
                c.procs_files()
                    .map(|p| CString::new(p.into_os_string().into_encoded_bytes()))
            })
            .into_iter()
            .flatten()
            .collect::<Result<_, _>>()
            .map_err(|_| SandboxError::Policy("cgroup path contains a NUL byte".into()))?,
    };
    // SAFETY: `Plan::run` only makes async-signal-safe system calls on memory prepared
    // before the fork; it allocates nothing and takes no lock.
    unsafe { cmd.pre_exec(move || plan.run()) };
    Ok(())
}

/// Everything the forked child needs, prepared before the fork.
struct Plan {
    procs: Vec<CString>,
}

impl Plan {
    /// Runs in the forked child; returns in the worker (which then execs), never in the keeper.
    fn run(&self) -> io::Result<()> {
        for p in &self.procs {
            write_file(p, b"0")?; // "0" is the writer: join the tenant's groups before forking
        }
        // SAFETY: a plain system call on a constant.
        unsafe { os(libc::unshare(NAMESPACES))? };
        // SAFETY: as above; after fork only async-signal-safe calls follow.
        unsafe {
            let keeper = os(libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) as i32)?;
            match os(libc::fork())? {
                0 => {
                    os(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
                    // The keeper may have died before the line above: then die too.
                    let mut p = libc::pollfd {
                        fd: keeper,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    if libc::poll(&mut p, 1, 0) != 0 {
                        libc::_exit(126);
                    }
                    libc::close(keeper);
                    Ok(())
                }
                worker => keep(worker),
            }
        }
    }
}

/// The keeper: holds nothing, waits for the worker, ends as it ended.
///
/// # Safety
/// Only in the forked child, with `worker` its child.
unsafe fn keep(worker: libc::pid_t) -> ! {
    // SAFETY: async-signal-safe calls only; the function never returns.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 0, libc::c_uint::MAX, 0) != 0 {
            for fd in 0..1024 {
                libc::close(fd);
            }
        }
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let mut status = 0;
        while libc::waitpid(worker, &mut status, 0) == -1 {
            if *libc::__errno_location() != libc::EINTR {
                libc::_exit(125);
            }
        }
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}

/// Writes `data` to the file `path` with raw system calls (no allocation).
fn write_file(path: &std::ffi::CStr, data: &[u8]) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated, `data` is valid for its length.
    unsafe {
        let fd = os(libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC))?;
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        let err = io::Error::last_os_error();
        libc::close(fd);
        if n != data.len() as isize {
            return Err(err);
        }
    }
    Ok(())
}

/// `Err(errno)` for -1.
fn os(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
