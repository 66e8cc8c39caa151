//! Starting a worker in new namespaces: [`configure`] and what runs between fork and exec.
//!
//! `unshare(CLONE_NEWUSER)` fails in a multi-threaded process and `CLONE_NEWPID` only moves
//! the caller's children, so the forked child (single-threaded, before exec) joins the
//! tenant's cgroup, drops to the policy's host id, unshares, maps root inside to that id,
//! and forks once more: the grandchild is pid 1 of the new pid namespace and execs the
//! worker; the child stays behind as its *keeper*. The keeper closes every descriptor,
//! waits for the worker and ends the same way (exit code or signal), so the supervisor's
//! `Child` reports the worker's fate; killing the keeper kills the worker
//! (`PR_SET_PDEATHSIG`). Only async-signal-safe calls run here: no allocation, no locks.

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::{Policy, SandboxError, TenantCgroup};

/// The namespaces a worker gets: its own users, pids, network, mounts, ipc, hostname, cgroups.
const NAMESPACES: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP;

/// Makes `cmd` start the worker in new namespaces as the policy's host id, inside `cgroup`.
///
/// The spawned `Child` is the worker's keeper: its exit status is the worker's (a worker
/// killed by seccomp ends its `Child` with SIGSYS, an OOM kill with SIGKILL) and killing it
/// kills the worker. The worker must still call [`crate::enter`] itself. If the caller is
/// not root, the worker keeps the caller's uid outside (and `cgroup` must be writable).
pub fn configure(
    cmd: &mut Command,
    policy: &Policy,
    cgroup: Option<&TenantCgroup>,
) -> Result<(), SandboxError> {
    policy.validate()?;
    // SAFETY: geteuid/getegid cannot fail.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let root = euid == 0;
    let (uid, gid) = if root {
        (policy.host_id, policy.host_id)
    } else {
        (euid, egid)
    };
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
        drop_to: root.then_some((uid, gid)),
        uid_map: format!("0 {uid} 1\n").into_bytes(),
        gid_map: format!("0 {gid} 1\n").into_bytes(),
    };
    // SAFETY: `Plan::run` only makes async-signal-safe system calls on memory prepared
    // before the fork; it allocates nothing and takes no lock.
    unsafe { cmd.pre_exec(move || plan.run()) };
    Ok(())
}

/// Everything the forked child needs, prepared before the fork.
struct Plan {
    procs: Vec<CString>,
    drop_to: Option<(u32, u32)>,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

impl Plan {
    /// Runs in the forked child; returns in the worker (which then execs), never in the keeper.
    fn run(&self) -> io::Result<()> {
        for p in &self.procs {
            write_file(p, b"0")?; // "0" is the writer: join the tenant's groups before forking
        }
        // SAFETY: plain system calls on values and static strings.
        unsafe {
            if let Some((uid, gid)) = self.drop_to {
                os(libc::setgroups(0, std::ptr::null()))?;
                os(libc::setresgid(gid, gid, gid))?;
                os(libc::setresuid(uid, uid, uid))?;
                // A uid change clears "dumpable", which would make /proc/self/*_map root's.
                os(libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0))?;
            }
            os(libc::unshare(NAMESPACES))?;
        }
        write_file(c"/proc/self/setgroups", b"deny")?;
        write_file(c"/proc/self/uid_map", &self.uid_map)?;
        write_file(c"/proc/self/gid_map", &self.gid_map)?;
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
