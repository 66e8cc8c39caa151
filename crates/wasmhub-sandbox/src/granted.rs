//! Granted directories a worker keeps through [`crate::enter`]: each opened, while the
//! worker is still root, on a detached idmapped mount of its own, so the tenant's host uid
//! acts as the directory's owner there and nowhere else.
//!
//! Without the idmap the tenant's uid would meet the host's file permissions (a granted
//! directory owned by root, mode 0700, would refuse it everything). With it, files owned by
//! the directory's owner (and group) appear owned by the tenant's uid on that mount alone,
//! files the tenant creates are owned by the directory's owner on disk, and files of any
//! other owner keep their "other" permission bits. The mount is detached (no path reaches
//! it, and `..` at its root stays there), nosuid, nodev, noexec, and read-only for a
//! read-only grant.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::SandboxError;

/// A granted directory a worker keeps through [`crate::enter`], with its Landlock rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantedDir {
    /// Its descriptor ([`open_granted_dir`]); kept open, the root of a path-beneath rule.
    pub fd: RawFd,
    /// Whether the grant allows writing below it (else reading only).
    pub writable: bool,
}

/// `open_tree(2)` flags and `mount_setattr(2)` attributes (linux/mount.h).
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `struct mount_attr` (linux/mount.h, MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Opens the directory at `path` for a worker whose tenant runs as `host_id`: a descriptor
/// of the root of a detached clone of its mount, idmapped so that the directory's owner
/// and group are `host_id` there, read-only unless `writable`. Call it as root, before
/// [`crate::enter`], and put the descriptor in [`crate::Policy::dirs`].
pub fn open_granted_dir(
    path: &Path,
    writable: bool,
    host_id: u32,
) -> Result<OwnedFd, SandboxError> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        granted_error(
            path,
            "open",
            std::io::Error::from_raw_os_error(libc::EINVAL),
        )
    })?;
    // SAFETY: open_tree on a NUL-terminated path; the result is a new descriptor.
    let tree = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c_path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if tree < 0 {
        return Err(granted_error(
            path,
            "clone its mount",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: open_tree returned a descriptor we own.
    let tree = unsafe { OwnedFd::from_raw_fd(tree as RawFd) };
    // The owner of what was opened (not of what the path names by now).
    // SAFETY: fstat of our descriptor into a zeroed struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(tree.as_raw_fd(), &mut st) } != 0 {
        return Err(granted_error(path, "stat", std::io::Error::last_os_error()));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(granted_error(
            path,
            "open",
            std::io::Error::from_raw_os_error(libc::ENOTDIR),
        ));
    }
    let userns = mapping_userns(st.st_uid, st.st_gid, host_id)
        .map_err(|source| granted_error(path, "make the id mapping", source))?;
    let mut attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if !writable {
        attr_set |= MOUNT_ATTR_RDONLY;
    }
    let attr = MountAttr {
        attr_set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: mount_setattr on our detached mount with a local struct of the size passed.
    let set = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if set < 0 {
        return Err(granted_error(
            path,
            "idmap its mount to the tenant's uid",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: openat of "." below our mount's root, a new descriptor.
    let dir = unsafe {
        libc::openat(
            tree.as_raw_fd(),
            c".".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return Err(granted_error(
            path,
            "open it",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: openat returned a descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(dir) })
}

fn granted_error(path: &Path, step: &'static str, source: std::io::Error) -> SandboxError {
    SandboxError::GrantedDir {
        path: PathBuf::from(path),
        step,
        source,
    }
}

/// A user namespace mapping `uid` and `gid` to `host_id` (what an idmapped mount needs):
/// made by a short-lived child that unshares it and waits while this process (root)
/// writes its maps and opens it.
fn mapping_userns(uid: u32, gid: u32, host_id: u32) -> std::io::Result<OwnedFd> {
    let (ready_r, ready_w) = pipe()?;
    let (done_r, done_w) = pipe()?;
    // SAFETY: the child makes only async-signal-safe calls on memory that exists before
    // the fork, then exits.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if child == 0 {
        // SAFETY: async-signal-safe calls only; `_exit` ends the child.
        unsafe {
            libc::close(ready_r.as_raw_fd());
            libc::close(done_w.as_raw_fd());
            // Its pid as /proc shows it (this process may be pid 1 of a pid namespace of
            // its own, under the host's /proc).
            let mut me = [0u8; 32];
            let n = libc::readlink(c"/proc/self".as_ptr(), me.as_mut_ptr().cast(), me.len());
            if n <= 0 || libc::unshare(libc::CLONE_NEWUSER) != 0 {
                libc::_exit(1);
            }
            libc::write(ready_w.as_raw_fd(), me.as_ptr().cast(), n as usize);
            libc::close(ready_w.as_raw_fd());
            let mut b = 0u8;
            libc::read(done_r.as_raw_fd(), (&raw mut b).cast(), 1);
            libc::_exit(0)
        }
    }
    drop(ready_w);
    drop(done_r);
    let mut pid = String::new();
    let read = std::fs::File::from(ready_r).read_to_string(&mut pid);
    let result = read.and_then(|_| {
        if pid.is_empty() {
            return Err(std::io::Error::other(
                "the helper could not make a user namespace",
            ));
        }
        let proc = Path::new("/proc").join(&pid);
        std::fs::write(proc.join("uid_map"), format!("{uid} {host_id} 1\n"))?;
        std::fs::write(proc.join("gid_map"), format!("{gid} {host_id} 1\n"))?;
        Ok(OwnedFd::from(std::fs::File::open(proc.join("ns/user"))?))
    });
    drop(done_w);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    result
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 into a local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both are new descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
