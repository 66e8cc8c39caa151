//! The one error type of the sandbox.

use std::io;

/// Why a sandbox step failed; each names the step and keeps the OS error as its source.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A system call of a lock-down step failed.
    #[error("sandbox: {step} failed")]
    Os {
        /// The step, e.g. "pivot_root into the empty root".
        step: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A cgroup file could not be created, written or removed.
    #[error(
        "sandbox: cgroup {path} could not be {action} (cgroup v1 `memory` and `pids` must be mounted under /sys/fs/cgroup and writable: run as root)"
    )]
    Cgroup {
        /// The file or directory.
        path: std::path::PathBuf,
        /// "created", "written", "removed".
        action: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Landlock refused the ruleset.
    #[error("sandbox: landlock ruleset could not be enforced")]
    Landlock(#[source] landlock::RulesetError),
    /// The seccomp filter could not be built or installed.
    #[error("sandbox: seccomp filter could not be {0}")]
    Seccomp(&'static str, #[source] seccompiler::Error),
    /// A granted directory could not be opened for a worker.
    #[error(
        "sandbox: granted directory {path} could not be opened for the tenant's worker ({step} failed): \
         it must exist and be on a file system that supports idmapped mounts (ext4, xfs, btrfs, \
         tmpfs on Linux 6.3+); fix the grant, or run the component with isolation = \"in-process\""
    )]
    GrantedDir {
        /// The host path.
        path: std::path::PathBuf,
        /// The step, e.g. "idmap its mount to the tenant's uid".
        step: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The process is not root: namespaces, the id switch and cgroups need it.
    #[error(
        "sandbox: a sandboxed worker needs root (this process runs as uid {0}): serve as root for isolation = \"process\", or use isolation = \"in-process\""
    )]
    NotRoot(u32),
    /// The policy is invalid (e.g. a tenant name that is not a file name).
    #[error("sandbox: invalid policy: {0}")]
    Policy(String),
}

impl SandboxError {
    /// The last OS error, attributed to `step`.
    pub(crate) fn last_os(step: &'static str) -> Self {
        SandboxError::Os {
            step,
            source: io::Error::last_os_error(),
        }
    }
}

/// Fails with [`SandboxError::NotRoot`] unless this process is root (as the supervisor
/// that calls [`crate::configure`] and the worker that calls [`crate::enter`] must be).
pub fn require_root() -> Result<(), SandboxError> {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        Ok(())
    } else {
        Err(SandboxError::NotRoot(euid))
    }
}

/// `Err(last OS error)` for a libc return value of -1.
pub(crate) fn check(ret: libc::c_long, step: &'static str) -> Result<libc::c_long, SandboxError> {
    if ret == -1 {
        Err(SandboxError::last_os(step))
    } else {
        Ok(ret)
    }
}
