//! The escape attempts a broken Wasm sandbox would make, one per case. Each returns
//! `Ok(())` when the attempt worked and the OS error when it was refused; a seccomp
//! kill or an OOM kill ends the process instead.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;

/// Every case the driver runs, both outside and inside the sandbox.
pub const CASES: &[&str] = &[
    "work",
    "inspect",
    "passwd",
    "compile-cache",
    "key-value",
    "inet",
    "unix",
    "signal",
    "ptrace",
    "exec",
    "mount",
    "unshare",
    "proc-mem",
    "memory",
    "fork-bomb",
    "files-rw",
    "files-passwd",
    "files-dotdot",
    "files-abs-link",
    "files-up-link",
    "files-ro-write",
    "files-root",
];

/// The worker's granted directories in the `files-*` cases: read-write, then read-only.
pub struct Grants {
    /// `grant-rw` (note.txt, abs-link -> /etc/passwd, up-link -> ../secret.txt).
    pub rw: std::os::fd::RawFd,
    /// `grant-ro` (note.txt).
    pub ro: std::os::fd::RawFd,
}

/// Runs `case`; `sock` is the worker's socket, `grants` its granted directories (the
/// `files-*` cases).
pub fn attempt(case: &str, sock: std::os::fd::RawFd, grants: Option<&Grants>) -> io::Result<()> {
    if let Some(g) = grants {
        return files(case, g);
    }
    if case.starts_with("net-") {
        return super::net::attempt(case);
    }
    match case {
        // Only the component call (it ran before this): the worker still works.
        "work" => Ok(()),
        // Wait (blocking) for one byte while the driver inspects this process from outside.
        "inspect" => {
            let mut b = [0u8];
            // SAFETY: reading one byte into a local buffer from our own socket.
            let n = unsafe { libc::read(sock, b.as_mut_ptr().cast(), 1) };
            if n == 1 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        }
        "passwd" => read_file("/etc/passwd"),
        "compile-cache" => read_file(&env("ESCAPE_CACHE_FILE")),
        "key-value" => read_file(&env("ESCAPE_KV_FILE")),
        "inet" => {
            std::net::TcpStream::connect(("127.0.0.1", env("ESCAPE_TCP_PORT").parse().unwrap()))
                .map(drop)
        }
        "unix" => UnixStream::connect(env("ESCAPE_UNIX_SOCKET")).map(drop),
        "signal" => os(unsafe { libc::kill(victim(), libc::SIGCONT) }),
        "ptrace" => ptrace(victim()),
        "exec" => exec_sh(),
        "mount" => mount_tmpfs(&env("ESCAPE_MOUNT_DIR")),
        "unshare" => os(unsafe { libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWNET) }),
        "proc-mem" => write_proc_mem(victim()),
        "memory" => allocate(env("ESCAPE_MEMORY_BYTES").parse().unwrap()),
        "fork-bomb" => fork_bomb(),
        other => panic!("unknown case {other}"),
    }
}

/// The `files-*` cases: what a broken Wasm sandbox holding granted directories would try,
/// with raw system calls on their descriptors (not WASI's path checks).
fn files(case: &str, g: &Grants) -> io::Result<()> {
    match case {
        // Write a file in the read-write grant and read it and a granted file back.
        "files-rw" => {
            let mut f = open_at(
                g.rw,
                "written.txt",
                libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
            )?;
            std::io::Write::write_all(&mut f, b"written inside\n")?;
            drop(f);
            let text = read_all(open_at(g.rw, "written.txt", libc::O_RDONLY)?)?;
            assert_eq!(text, b"written inside\n");
            read_at(g.rw, "note.txt")?;
            read_at(g.ro, "note.txt")
        }
        "files-passwd" => read_file("/etc/passwd"),
        "files-dotdot" => read_at(g.rw, "../secret.txt"),
        "files-abs-link" => read_at(g.rw, "abs-link"),
        "files-up-link" => read_at(g.rw, "up-link"),
        "files-ro-write" => open_at(g.ro, "new.txt", libc::O_CREAT | libc::O_WRONLY).map(drop),
        // The one directory an entered worker's root holds is the root itself: only
        // Landlock (no rule there) stops listing it.
        "files-root" => {
            let root = open_at(libc::AT_FDCWD, "/", libc::O_RDONLY | libc::O_DIRECTORY)?;
            drop(root);
            Ok(())
        }
        other => panic!("unknown files case {other}"),
    }
}

/// `openat(dir, path, flags, 0644)` as a file.
fn open_at(dir: std::os::fd::RawFd, path: &str, flags: libc::c_int) -> io::Result<std::fs::File> {
    let path = std::ffi::CString::new(path).unwrap();
    // SAFETY: openat on a NUL-terminated path; the result is a new descriptor we own.
    let fd = unsafe { libc::openat(dir, path.as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Reads `path` below `dir`; it must not be empty.
fn read_at(dir: std::os::fd::RawFd, path: &str) -> io::Result<()> {
    let text = read_all(open_at(dir, path, libc::O_RDONLY)?)?;
    assert!(!text.is_empty(), "{path} is empty");
    Ok(())
}

/// Reads `f` to its end with plain `read` calls (std's `read_to_end` on a file also asks
/// its size and position: statx and lseek, which a worker's list does not need).
fn read_all(mut f: std::fs::File) -> io::Result<Vec<u8>> {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf)? {
            0 => return Ok(text),
            n => text.extend_from_slice(&buf[..n]),
        }
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn victim() -> libc::pid_t {
    env("ESCAPE_VICTIM_PID").parse().unwrap()
}

fn os(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn read_file(path: &str) -> io::Result<()> {
    let mut text = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut text)?;
    assert!(!text.is_empty(), "{path} is empty");
    Ok(())
}

/// Attaches to the victim, waits for it to stop, detaches.
fn ptrace(pid: libc::pid_t) -> io::Result<()> {
    // SAFETY: ptrace requests on another process's pid; the victim is resumed on detach.
    unsafe {
        if libc::ptrace(libc::PTRACE_ATTACH, pid, 0, 0) == -1 {
            return Err(io::Error::last_os_error());
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, libc::__WALL);
        os(libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0) as libc::c_int)
    }
}

/// Replaces this process with `sh`, which reports success itself.
fn exec_sh() -> io::Result<()> {
    let argv = [
        c"sh".as_ptr(),
        c"-c".as_ptr(),
        c"echo RESULT ok".as_ptr(),
        std::ptr::null(),
    ];
    let envp = [std::ptr::null()];
    // SAFETY: NUL-terminated argument and environment arrays.
    unsafe { libc::execve(c"/bin/sh".as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Err(io::Error::last_os_error())
}

/// Mounts a tmpfs on `dir` and unmounts it again.
fn mount_tmpfs(dir: &str) -> io::Result<()> {
    let dir = std::ffi::CString::new(dir).unwrap();
    // SAFETY: mount/umount with NUL-terminated strings.
    unsafe {
        os(libc::mount(
            c"escape".as_ptr(),
            dir.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            std::ptr::null(),
        ))?;
        os(libc::umount2(dir.as_ptr(), 0))
    }
}

/// Writes 8 bytes of the victim's writable memory back with the value they already hold.
fn write_proc_mem(pid: libc::pid_t) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mem = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/proc/{pid}/mem"))?;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
    let start = maps
        .lines()
        .find(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|p| p.starts_with("rw"))
        })
        .and_then(|l| l.split('-').next())
        .map(|a| u64::from_str_radix(a, 16).unwrap())
        .expect("a writable mapping in the victim");
    let mut word = [0u8; 8];
    mem.read_exact_at(&mut word, start)?;
    mem.write_all_at(&word, start)
}

/// Allocates and touches `bytes` of memory.
fn allocate(bytes: usize) -> io::Result<()> {
    let mut block: Vec<u8> = Vec::with_capacity(bytes);
    let p = block.as_mut_ptr();
    for i in (0..bytes).step_by(4096) {
        // SAFETY: within the vector's capacity.
        unsafe { p.add(i).write_volatile(1) };
    }
    std::hint::black_box(&block);
    Ok(())
}

/// Forks 64 children that all stay alive until the last is forked (bounded, so it is
/// harmless outside), then lets them exit and reaps them.
fn fork_bomb() -> io::Result<()> {
    let mut pipe = [0; 2];
    // SAFETY: pipe into a local array.
    os(unsafe { libc::pipe(pipe.as_mut_ptr()) })?;
    let mut children = Vec::new();
    let mut result = Ok(());
    for _ in 0..64 {
        // SAFETY: the child only reads the pipe (until the parent closes it) and exits.
        match unsafe { libc::fork() } {
            -1 => {
                result = Err(io::Error::last_os_error());
                break;
            }
            0 => unsafe {
                libc::close(pipe[1]);
                let mut b = 0u8;
                libc::read(pipe[0], (&raw mut b).cast(), 1);
                libc::_exit(0)
            },
            child => children.push(child),
        }
    }
    // SAFETY: closing our pipe ends, waiting for our own children.
    unsafe {
        libc::close(pipe[1]);
        libc::close(pipe[0]);
        for child in children {
            let mut status = 0;
            libc::waitpid(child, &mut status, 0);
        }
    }
    result
}
