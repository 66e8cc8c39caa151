//! [`enter`]: the worker's own lock-down, inside the namespaces [`crate::configure`] made.

use std::os::fd::{AsRawFd, BorrowedFd};

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, PathBeneath, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope,
};

use crate::error::check;
use crate::{Policy, SandboxError};

/// Locks the calling worker down for good; call it after the Wasmtime engine and memory
/// pools are set up and everything the worker needs is open, before any thread or async
/// runtime is started.
///
/// In order: refuses to run unless it is pid 1 of a pid namespace of its own (a worker
/// started with [`crate::configure`]), root and single-threaded; points 0, 1 and 2 at
/// /dev/null unless kept; becomes the tenant: drops its supplementary groups, gid and uid
/// to [`Policy::host_id`], then unshares a user namespace (root inside mapped to that id,
/// `setgroups` denied) and a mount namespace owned by it, and sets its parent-death signal
/// again (an id change clears it); makes an empty read-only tmpfs the root (`pivot_root`,
/// old root detached); closes every descriptor not in [`Policy::keep_fds`] or
/// [`Policy::dirs`] except this
/// process's own `/proc/self/pagemap` (Wasmtime's pooling allocator opens it at
/// `Engine::new` and scans it with `PAGEMAP_SCAN` to reset only dirtied pages; it shows
/// nothing but this process's page table); drops all capabilities; sets `no_new_privs` and
/// not-dumpable; enforces Landlock (all filesystem and TCP access, abstract Unix sockets
/// and signals outside the worker handled, the best ABI the kernel has) with one rule per
/// granted directory (below it: reading, and writing if granted) and none else; installs
/// the seccomp allowlist (`src/seccomp.rs`), which kills the process on any other system
/// call (the file system calls are in it only when [`Policy::dirs`] is not empty). With
/// [`Policy::socket_broker`], before Landlock: a second filter hands the worker's socket
/// calls to its supervisor, whose [`crate::SocketBroker`] makes or refuses them, and the
/// allowlist lets those calls and the socket calls that follow (accept, options, names)
/// through.
/// Descriptors made before (e.g. a runtime's epoll) are closed.
pub fn enter(policy: &Policy) -> Result<(), SandboxError> {
    refuse_unless_fresh_worker()?;
    let pagemaps = own_pagemap_fds()?;
    let null = open_dev_null()?;
    for fd in 0..3 {
        if !policy.keep_fds.contains(&fd) {
            // SAFETY: dup2 of an open descriptor onto a standard one.
            check(
                unsafe { libc::dup2(null, fd) }.into(),
                "point stdio at /dev/null",
            )?;
        }
    }
    become_tenant(policy.host_id)?;
    empty_root()?;
    let mut keep: Vec<libc::c_int> = policy.keep_fds.clone();
    keep.extend([0, 1, 2]);
    keep.extend(pagemaps);
    keep.extend(policy.dirs.iter().map(|d| d.fd));
    close_all_but(keep)?;
    drop_capabilities()?;
    // SAFETY: prctl with integer arguments.
    unsafe {
        check(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).into(),
            "set no_new_privs",
        )?;
        check(
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0).into(),
            "clear dumpable",
        )?;
    }
    if let Some(sock) = policy.socket_broker {
        hand_over_socket_calls(sock)?;
    }
    landlock(&policy.dirs)?;
    crate::seccomp::install(!policy.dirs.is_empty(), policy.socket_broker.is_some())
}

/// Installs the socket-call filter ([`crate::SocketBroker`]) and sends its listener to the
/// supervisor over `sock`, keeping no copy.
fn hand_over_socket_calls(sock: libc::c_int) -> Result<(), SandboxError> {
    let listener = crate::notify::install()?;
    crate::send_fd(sock, listener.as_raw_fd()).map_err(|source| SandboxError::Os {
        step: "send the socket-call listener to the supervisor",
        source,
    })
}

/// Fails unless this process is pid 1 of its own pid namespace (so never the supervisor or
/// a test runner), root and single-threaded.
fn refuse_unless_fresh_worker() -> Result<(), SandboxError> {
    // SAFETY: getpid cannot fail.
    if unsafe { libc::getpid() } != 1 {
        return Err(SandboxError::Policy(
            "enter must run in a worker started with wasmhub_sandbox::configure (this process is not pid 1 of a pid namespace of its own)".into(),
        ));
    }
    crate::error::require_root()?;
    let threads = std::fs::read_dir("/proc/self/task")
        .map_err(|source| SandboxError::Os {
            step: "list /proc/self/task",
            source,
        })?
        .count();
    if threads != 1 {
        return Err(SandboxError::Policy(format!(
            "enter must run before the worker starts a thread ({threads} are running)"
        )));
    }
    Ok(())
}

/// Drops to `host_id` on the host and becomes root of a new user namespace (mapped to that
/// id alone) with a mount namespace of its own; keeps the keeper's parent-death signal.
fn become_tenant(host_id: u32) -> Result<(), SandboxError> {
    // The keeper's pid as the host's /proc sees it (getppid says 0 across the pid namespace).
    let keeper = parent_pid()?;
    // SAFETY: plain system calls with integer arguments.
    unsafe {
        check(
            libc::setgroups(0, std::ptr::null()).into(),
            "drop supplementary groups",
        )?;
        check(
            libc::setresgid(host_id, host_id, host_id).into(),
            "switch to the tenant's host gid",
        )?;
        check(
            libc::setresuid(host_id, host_id, host_id).into(),
            "switch to the tenant's host uid",
        )?;
        // A uid change clears "dumpable", which would make /proc/self/*_map root's.
        check(
            libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0).into(),
            "set dumpable for the id maps",
        )?;
        check(
            libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS).into(),
            "unshare the user and mount namespaces",
        )?;
    }
    let write = |path: &str, data: String, step| {
        std::fs::write(path, data).map_err(|source| SandboxError::Os { step, source })
    };
    write("/proc/self/setgroups", "deny".into(), "deny setgroups")?;
    write(
        "/proc/self/uid_map",
        format!("0 {host_id} 1\n"),
        "write the uid map",
    )?;
    write(
        "/proc/self/gid_map",
        format!("0 {host_id} 1\n"),
        "write the gid map",
    )?;
    // SAFETY: prctl with integer arguments.
    check(
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) }.into(),
        "set the parent-death signal again",
    )?;
    // The keeper may have died while the signal was cleared: then end here.
    if parent_pid()? != keeper {
        return Err(SandboxError::Policy(
            "the worker's keeper ended while it locked down".into(),
        ));
    }
    Ok(())
}

/// The parent's pid in the host's /proc (field 4 of /proc/self/stat).
fn parent_pid() -> Result<u32, SandboxError> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|source| SandboxError::Os {
        step: "read /proc/self/stat",
        source,
    })?;
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| SandboxError::Policy(format!("unreadable /proc/self/stat: {stat}")))
}

/// The descriptors open on this process's own page map.
fn own_pagemap_fds() -> Result<Vec<libc::c_int>, SandboxError> {
    let os = |step| move |source| SandboxError::Os { step, source };
    let me = std::fs::read_link("/proc/self").map_err(os("read /proc/self"))?;
    let pagemap = std::path::Path::new("/proc").join(me).join("pagemap");
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").map_err(os("list /proc/self/fd"))? {
        let entry = entry.map_err(os("list /proc/self/fd"))?;
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if std::fs::read_link(entry.path()).is_ok_and(|t| t == pagemap) {
            fds.push(fd);
        }
    }
    Ok(fds)
}

fn open_dev_null() -> Result<libc::c_int, SandboxError> {
    // SAFETY: open of a static NUL-terminated path.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    check(fd.into(), "open /dev/null").map(|fd| fd as libc::c_int)
}

/// An empty read-only tmpfs as the root of this process's own mount namespace.
fn empty_root() -> Result<(), SandboxError> {
    // SAFETY: mount-family calls on static NUL-terminated strings.
    unsafe {
        // The mount namespace is our own ([`become_tenant`]): nothing below reaches the
        // supervisor's.
        check(
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
            .into(),
            "make mounts private",
        )?;
        // Any directory that exists serves as the mount point: the tmpfs becomes the root.
        let point = [c"/tmp", c"/mnt", c"/proc", c"/dev"]
            .into_iter()
            .find(|dir| {
                libc::mount(
                    c"wasmhub-empty".as_ptr(),
                    dir.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    c"size=4k,nr_inodes=1,mode=0555".as_ptr().cast(),
                ) == 0
            })
            .ok_or_else(|| {
                SandboxError::last_os("mount an empty tmpfs on /tmp, /mnt, /proc or /dev")
            })?;
        check(libc::chdir(point.as_ptr()).into(), "enter the empty root")?;
        check(
            libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()),
            "pivot_root into the empty root",
        )?;
        check(
            libc::umount2(c".".as_ptr(), libc::MNT_DETACH).into(),
            "detach the old root",
        )?;
        check(libc::chdir(c"/".as_ptr()).into(), "enter the empty root")?;
        check(
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | libc::MS_NODEV
                    | libc::MS_NOEXEC,
                std::ptr::null(),
            )
            .into(),
            "make the empty root read-only",
        )?;
    }
    Ok(())
}

/// Closes every descriptor not in `keep`.
fn close_all_but(mut keep: Vec<libc::c_int>) -> Result<(), SandboxError> {
    keep.retain(|&fd| fd >= 0);
    keep.sort_unstable();
    keep.dedup();
    let mut from: libc::c_uint = 0;
    for fd in keep.into_iter().map(|fd| fd as libc::c_uint) {
        if fd > from {
            close_range(from, fd - 1)?;
        }
        from = fd + 1;
    }
    close_range(from, libc::c_uint::MAX)
}

fn close_range(first: libc::c_uint, last: libc::c_uint) -> Result<(), SandboxError> {
    // SAFETY: closing descriptors nobody else uses (the worker is single-threaded here).
    check(
        unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) },
        "close inherited descriptors",
    )?;
    Ok(())
}

/// Empties the bounding, ambient, effective, permitted and inheritable capability sets.
fn drop_capabilities() -> Result<(), SandboxError> {
    // SAFETY: prctl and capset with integer arguments and local structs.
    unsafe {
        check(
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
            .into(),
            "clear ambient capabilities",
        )?;
        let mut cap = 0;
        while libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 {
            cap += 1;
        }
        #[repr(C)]
        struct Header {
            version: u32,
            pid: libc::c_int,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let header = Header {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let data = [Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        check(
            libc::syscall(libc::SYS_capset, &header, data.as_ptr()),
            "drop capabilities",
        )?;
    }
    Ok(())
}

/// What a granted directory allows below it: reading files and listing directories, and
/// for a writable grant making, removing, renaming, linking and truncating files and
/// directories. Never executing, device or socket files, or device ioctls.
fn granted_access(writable: bool) -> BitFlags<AccessFs> {
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    if !writable {
        return read;
    }
    read | AccessFs::WriteFile
        | AccessFs::RemoveDir
        | AccessFs::RemoveFile
        | AccessFs::MakeDir
        | AccessFs::MakeReg
        | AccessFs::MakeSym
        | AccessFs::Refer
        | AccessFs::Truncate
}

/// Landlock, best ABI available, handling every access right and scope, with a
/// path-beneath rule for each of `dirs` and none else.
fn landlock(dirs: &[crate::GrantedDir]) -> Result<(), SandboxError> {
    let abi = ABI::V10;
    let mut created = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .map_err(SandboxError::Landlock)?;
    for dir in dirs {
        // SAFETY: the descriptor is the policy's, open until this process ends.
        let fd = unsafe { BorrowedFd::borrow_raw(dir.fd) };
        created = created
            .add_rule(PathBeneath::new(fd, granted_access(dir.writable)))
            .map_err(SandboxError::Landlock)?;
    }
    created.restrict_self().map_err(SandboxError::Landlock)?;
    Ok(())
}
