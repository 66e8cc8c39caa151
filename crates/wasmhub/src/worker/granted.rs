//! A worker's granted directories: opened while it prepares its components (each on an
//! idmapped mount of its own for the tenant's uid, `wasmhub_sandbox::open_granted_dir`),
//! then handed to the sandbox's policy at lock-down (a Landlock rule each, their
//! descriptors kept) and never opened again.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use wasmhub_caps::DirMode;
use wasmhub_sandbox::{GrantedDir, Policy};

/// The directories this worker opened for its tenant.
pub(crate) struct Granted(Arc<Inner>);

struct Inner {
    /// The tenant's host uid, which each directory's owner is mapped to.
    host_id: u32,
    /// Set at lock-down: no directory is opened after.
    sealed: AtomicBool,
    /// Each directory opened (our own descriptor, the root of its Landlock rule) and
    /// whether it is writable.
    dirs: Mutex<Vec<(OwnedFd, bool)>>,
}

impl Granted {
    /// From now on this process opens granted directories for the tenant whose host uid is
    /// `host_id` (see `wasmhub_caps::open_directories_with`).
    pub(crate) fn install(host_id: u32) -> Self {
        let inner = Arc::new(Inner {
            host_id,
            sealed: AtomicBool::new(false),
            dirs: Mutex::new(Vec::new()),
        });
        let opener = inner.clone();
        wasmhub_caps::open_directories_with(move |path, mode| opener.open(path, mode));
        Self(inner)
    }

    /// Ends opening (a later grant fails to open, naming why) and adds the directories to
    /// `policy`: each a Landlock rule, and every descriptor on their mounts kept (the
    /// preopens wasmtime-wasi reopened from ours).
    pub(crate) fn seal(&self, policy: &mut Policy) {
        self.0.sealed.store(true, Ordering::SeqCst);
        let dirs = self.0.dirs.lock().unwrap_or_else(|e| e.into_inner());
        let mounts: HashSet<u64> = dirs
            .iter()
            .filter_map(|(fd, _)| mount_id(fd.as_raw_fd()))
            .collect();
        policy.dirs = dirs
            .iter()
            .map(|(fd, writable)| GrantedDir {
                fd: fd.as_raw_fd(),
                writable: *writable,
            })
            .collect();
        policy.keep_fds.extend(fds_on(&mounts));
    }
}

impl Inner {
    /// Opens `path` for the tenant, keeping a copy of its descriptor for the policy.
    fn open(&self, path: &Path, mode: DirMode) -> io::Result<OwnedFd> {
        if self.sealed.load(Ordering::SeqCst) {
            return Err(io::Error::other(
                "a worker opens its granted directories before it locks down, not after",
            ));
        }
        let writable = matches!(mode, DirMode::ReadWrite);
        let fd = wasmhub_sandbox::open_granted_dir(path, writable, self.host_id)
            .map_err(io::Error::other)?;
        let ours = fd.try_clone()?;
        self.dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((ours, writable));
        Ok(fd)
    }
}

/// The mount descriptor `fd` is on (`mnt_id` in /proc/self/fdinfo).
fn mount_id(fd: i32) -> Option<u64> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// This process's descriptors on one of `mounts` (each granted directory's mount is this
/// process's own, so these are its preopens and nothing else).
fn fds_on(mounts: &HashSet<u64>) -> Vec<i32> {
    if mounts.is_empty() {
        return Vec::new();
    }
    std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| mount_id(fd).is_some_and(|m| mounts.contains(&m)))
        .collect()
}
