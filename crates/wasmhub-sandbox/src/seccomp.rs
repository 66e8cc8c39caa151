//! The seccomp allowlist of a locked-down worker: what a current-thread tokio runtime on
//! Unix sockets, Wasmtime 48 running precompiled components from the pooling allocator and
//! an epoch ticker thread need, nothing else. Any other call kills the whole process
//! (`SECCOMP_RET_KILL_PROCESS`: the supervisor sees the worker end by SIGSYS).
//!
//! Derived with `strace -f` on the escape test's worker (`tests/escape.rs`, case `work`:
//! receive the code descriptor with `recvmsg`, load the component, read a request and
//! answer on a tokio Unix socket, call the guest, make it trap, tick epochs on a second
//! thread): every call it made after `enter` is below, grouped, plus the few marked
//! "not seen" that the same code makes on other paths (a realloc, an exit, a restart).
//! File system calls ([`FILES`]) are added only for a worker that keeps granted
//! directories; without them any open ends the worker.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

use crate::SandboxError;

/// Memory: the allocator (brk, mmap; mremap not seen: realloc of large blocks), Wasmtime's
/// pool slots, guard pages, code publishing (mprotect), slot resets (madvise) and
/// copy-on-write memory images (memfd_create, written, mapped; ftruncate not seen), code
/// publishing on other cores (membarrier).
const MEMORY: &[libc::c_long] = &[
    libc::SYS_brk,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mprotect,
    libc::SYS_madvise,
    libc::SYS_mremap,
    libc::SYS_memfd_create,
    libc::SYS_ftruncate,
    // Not seen on x86_64: on aarch64 Wasmtime makes other cores see newly published code.
    libc::SYS_membarrier,
];

/// Threads: futexes, a new thread's set-up (set_robust_list, rseq, sigaltstack,
/// sched_getaffinity, gettid), yielding and exiting (sched_yield, getpid, exit not seen).
const THREADS: &[libc::c_long] = &[
    libc::SYS_futex,
    libc::SYS_set_robust_list,
    libc::SYS_rseq,
    libc::SYS_sched_getaffinity,
    libc::SYS_sched_yield,
    libc::SYS_gettid,
    libc::SYS_getpid,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_restart_syscall,
];

/// Signals: Wasmtime turns guest traps (SIGILL, SIGSEGV) into errors in handlers on an
/// alternate stack; glibc blocks signals around thread creation.
const SIGNALS: &[libc::c_long] = &[
    libc::SYS_sigaltstack,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
];

/// Time and randomness: the epoch ticker's sleep, timers (clock_gettime is usually the
/// vDSO's and not seen), hash-map seeds and WASI random (getrandom).
const TIME: &[libc::c_long] = &[
    libc::SYS_clock_gettime,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_getrandom,
];

/// I/O on descriptors the worker holds: its Unix socket (recvmsg with the code descriptor,
/// recvfrom/sendto by tokio), the runtime's epoll and eventfd, memory-image writes, fstat
/// of a received code descriptor. None of these names a path or an address.
const IO: &[libc::c_long] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_recvmsg,
    libc::SYS_sendmsg,
    libc::SYS_recvfrom,
    libc::SYS_sendto,
    libc::SYS_shutdown,
    libc::SYS_close,
    libc::SYS_fcntl,
    libc::SYS_fstat,
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_pwait,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_epoll_wait,
    libc::SYS_eventfd2,
];

/// Files below granted directories, for a worker that has some ([`crate::Policy::dirs`])
/// and for no other. Opening relative to a directory descriptor (openat2 with
/// RESOLVE_BENEATH for paths, openat of "." to list; the worker's root is empty and
/// Landlock allows nothing but below the granted directories), stat of a path (statx
/// without the descriptor-only condition below), listing (getdents64), positioned I/O
/// (pread64, pwrite64), fsync, and the directory operations WASI's filesystem interface
/// exposes: mkdirat, unlinkat (files and directories), renameat (renameat2 where there
/// is no renameat, e.g. aarch64), linkat, symlinkat, readlinkat, utimensat. Set sizes
/// use ftruncate and flags fcntl, both in the lists above.
///
/// Derived with `strace -f` on a served worker (`isolation = "process"`) whose component
/// (`files-http`) read, listed, stat-ed, wrote, made and removed directories, renamed,
/// hard- and symlinked, read links, truncated, synced and set times in a granted
/// directory, as the `caps_files` e2e tests do: every call it made after `enter` is in
/// these lists. Added though not seen there, because WASI reaches them on a descriptor the
/// worker already holds: fdatasync (`sync-data`), fadvise64 (`advise`), lseek. Not
/// allowed: newfstatat on a path.
const FILES: &[libc::c_long] = &[
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_statx,
    libc::SYS_getdents64,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_fadvise64,
    libc::SYS_lseek,
    libc::SYS_mkdirat,
    libc::SYS_unlinkat,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_renameat,
    #[cfg(not(target_arch = "x86_64"))]
    libc::SYS_renameat2,
    libc::SYS_linkat,
    libc::SYS_symlinkat,
    libc::SYS_readlinkat,
    libc::SYS_utimensat,
];

/// Sockets, for a worker whose tenant is granted some ([`crate::Policy::socket_broker`]) and
/// for no other. The first four never run here: the socket-call filter hands them to the
/// supervisor ([`crate::SocketBroker`]), which makes them in its own network namespace
/// after its checks (they are listed because the kernel takes the strictest of the
/// filters' answers). The rest act on sockets the worker already holds: accepting on a
/// listener, options, addresses. `sendmsg` is taken out for such a worker: its address is
/// in memory, out of both filters' reach (a send with an address goes through `sendto`,
/// which is handed over).
const SOCKETS: &[libc::c_long] = &[
    libc::SYS_socket,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_listen,
    libc::SYS_accept4,
    libc::SYS_accept,
    libc::SYS_getsockopt,
    libc::SYS_setsockopt,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
];

/// Namespace flags a thread's clone may not carry.
const NEW_NAMESPACES: u64 = (libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u64;

/// `PAGEMAP_SCAN`: `_IOWR('f', 16, struct pm_scan_arg)` (96 bytes), Linux 6.7+.
const PAGEMAP_SCAN: u64 = 0xc060_6610;

/// Installs the filters on the calling thread (the worker is single-threaded here); with
/// [`FILES`] when `files` (the worker keeps granted directories), and [`SOCKETS`] (without
/// `sendmsg`) when `sockets` (its socket calls are handed to its supervisor).
pub(crate) fn install(files: bool, sockets: bool) -> Result<(), SandboxError> {
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e: seccompiler::BackendError| {
            SandboxError::Seccomp("built for this architecture", e.into())
        })?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for sys in [MEMORY, THREADS, SIGNALS, TIME, IO].concat() {
        rules.insert(sys, Vec::new());
    }
    // clone: threads only (CLONE_THREAD set, no new namespace), never a new process.
    rules.insert(
        libc::SYS_clone,
        vec![rule(vec![
            cond(
                0,
                SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
                libc::CLONE_THREAD as u64,
            )?,
            cond(0, SeccompCmpOp::MaskedEq(NEW_NAMESPACES), 0)?,
        ])?],
    );
    // clone3: let through here, answered ENOSYS by the second filter below.
    rules.insert(libc::SYS_clone3, Vec::new());
    // prctl: only naming a thread (std's thread::Builder::name).
    rules.insert(
        libc::SYS_prctl,
        vec![rule(vec![cond(
            0,
            SeccompCmpOp::Eq,
            libc::PR_SET_NAME as u64,
        )?])?],
    );
    // ioctl: non-blocking sockets (std's set_nonblocking), close-on-exec, and Wasmtime's
    // PAGEMAP_SCAN on this process's own page map.
    rules.insert(
        libc::SYS_ioctl,
        [libc::FIONBIO, libc::FIOCLEX, PAGEMAP_SCAN]
            .into_iter()
            .map(|req| rule(vec![cond(1, SeccompCmpOp::Eq, req)?]))
            .collect::<Result<_, _>>()?,
    );
    // socketpair: Unix only (tokio's signal driver); it names nothing and reaches nobody.
    rules.insert(
        libc::SYS_socketpair,
        vec![rule(vec![cond(
            0,
            SeccompCmpOp::Eq,
            libc::AF_UNIX as u64,
        )?])?],
    );
    // newfstatat: only on a descriptor (AT_EMPTY_PATH), which is how glibc's fstat calls it.
    rules.insert(
        libc::SYS_newfstatat,
        vec![rule(vec![cond(
            3,
            SeccompCmpOp::MaskedEq(libc::AT_EMPTY_PATH as u64),
            libc::AT_EMPTY_PATH as u64,
        )?])?],
    );
    // statx: only on a descriptor (AT_EMPTY_PATH, flags are its third argument), which is
    // how Rust's `File::metadata` asks (a linked component's code file, at its first call).
    rules.insert(
        libc::SYS_statx,
        vec![rule(vec![cond(
            2,
            SeccompCmpOp::MaskedEq(libc::AT_EMPTY_PATH as u64),
            libc::AT_EMPTY_PATH as u64,
        )?])?],
    );
    // Files: replaces the descriptor-only rule of statx above.
    if files {
        for &sys in FILES {
            rules.insert(sys, Vec::new());
        }
    }
    if sockets {
        for &sys in SOCKETS {
            rules.insert(sys, Vec::new());
        }
        rules.remove(&libc::SYS_sendmsg);
    }
    // tgkill: only this process's own threads (abort() raising SIGABRT; not seen).
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() } as u64;
    rules.insert(
        libc::SYS_tgkill,
        vec![rule(vec![cond(0, SeccompCmpOp::Eq, me)?])?],
    );
    let allow = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| SandboxError::Seccomp("built", e.into()))?;
    // clone3 passes its flags in memory, out of the filter's reach: answer ENOSYS so glibc
    // falls back to clone, whose flags are checked above. (A second filter because one
    // filter has one match action; the kernel applies the strictest answer of all.)
    let clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(|e| SandboxError::Seccomp("built", e.into()))?;
    // The clone3 filter first: once the allowlist is in, seccomp() itself is forbidden.
    for filter in [clone3, allow] {
        let bpf: BpfProgram = filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| SandboxError::Seccomp("compiled", e.into()))?;
        seccompiler::apply_filter(&bpf).map_err(|e| SandboxError::Seccomp("installed", e))?;
    }
    Ok(())
}

/// A condition on 32-bit argument `arg`.
fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, SandboxError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value)
        .map_err(|e| SandboxError::Seccomp("built", e.into()))
}

/// A rule matching when all `conds` hold.
fn rule(conds: Vec<SeccompCondition>) -> Result<SeccompRule, SandboxError> {
    SeccompRule::new(conds).map_err(|e| SandboxError::Seccomp("built", e.into()))
}
