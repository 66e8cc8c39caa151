//! `configure` and `TenantCgroup` seen from the supervisor's side: the worker's namespaces,
//! its exit status through the keeper, and its end when the keeper is killed. Root only.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wasmhub_sandbox::{Policy, TenantCgroup, configure};

/// False (with the reason printed) where these tests cannot run.
fn as_root() -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        println!("skipped: needs root (namespaces, cgroups)");
    }
    root
}

fn sandboxed(program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null());
    configure(&mut cmd, &Policy::new("keeper-test"), None).unwrap();
    cmd
}

/// The one child of `parent`, waiting up to 30 s for it to appear.
fn child_of(parent: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = std::fs::read_dir("/proc").unwrap().find_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == parent).then_some(pid)
        });
        if let Some(pid) = found {
            return pid;
        }
        assert!(Instant::now() < deadline, "no child of {parent}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True once `pid` has ended (gone or a zombie), waiting up to 30 s.
fn ends(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(s) if s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z') => return true,
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}

#[test]
fn the_worker_is_root_and_pid_1_of_its_own_pid_and_net_namespaces() {
    if !as_root() {
        return;
    }
    let out = sandboxed(
        "/bin/sh",
        &[
            "-c",
            "echo $$ $(id -u) $(readlink /proc/self/ns/net) $(readlink /proc/self/ns/user)",
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let ns = |kind| {
        std::fs::read_link(format!("/proc/self/ns/{kind}"))
            .unwrap()
            .display()
            .to_string()
    };
    let words = text.split_whitespace().collect::<Vec<_>>();
    // Root still (it reads its code before `enter`), in the host's user namespace, but pid 1
    // of its own pid namespace with a network of its own.
    assert_eq!(words[..2], ["1", "0"], "pid and uid: {text}");
    assert_ne!(words[2], ns("net"), "{text}");
    assert_eq!(words[3], ns("user"), "{text}");
}

#[test]
fn the_keeper_exits_with_the_workers_exit_code() {
    if !as_root() {
        return;
    }
    let status = sandboxed("/bin/sh", &["-c", "exit 7"]).status().unwrap();
    assert_eq!(status.code(), Some(7));
}

#[test]
fn a_worker_killed_from_outside_ends_its_keeper_by_the_same_signal() {
    if !as_root() {
        return;
    }
    let mut keeper = sandboxed("sleep", &["600"]).spawn().unwrap();
    let worker = child_of(keeper.id());
    // SAFETY: killing the worker this test started.
    assert_eq!(unsafe { libc::kill(worker as i32, libc::SIGKILL) }, 0);
    assert_eq!(keeper.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
fn killing_the_keeper_kills_the_worker() {
    if !as_root() {
        return;
    }
    let mut keeper = sandboxed("sleep", &["600"]).spawn().unwrap();
    let worker = child_of(keeper.id());
    keeper.kill().unwrap();
    keeper.wait().unwrap();
    assert!(ends(worker), "worker {worker} outlived its keeper");
}

#[test]
fn tenant_cgroup_writes_its_limits_and_is_removed() {
    if !as_root() || !std::path::Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists() {
        println!("skipped: needs root and cgroup v1 memory and pids");
        return;
    }
    let mut policy = Policy::new(format!("unit-{}", std::process::id()));
    policy.memory_limit_bytes = 100 << 20;
    policy.max_processes = 10;
    let cg = TenantCgroup::create(&policy).unwrap();
    let dir = |c: &str| format!("/sys/fs/cgroup/{c}/wasmhub/{}", policy.tenant);
    let read = |p: String| std::fs::read_to_string(p).unwrap().trim().to_string();
    assert_eq!(
        read(dir("memory") + "/memory.limit_in_bytes"),
        (100u64 << 20).to_string()
    );
    assert_eq!(read(dir("pids") + "/pids.max"), "10");
    let mut cmd = Command::new("sleep");
    cmd.arg("600");
    configure(&mut cmd, &policy, Some(&cg)).unwrap();
    let mut keeper = cmd.spawn().unwrap();
    let procs = read(dir("pids") + "/cgroup.procs");
    assert!(
        procs.lines().any(|p| p == keeper.id().to_string()),
        "{procs}"
    );
    keeper.kill().unwrap();
    keeper.wait().unwrap();
    // The worker dies with its keeper; then the groups can go.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !read(dir("pids") + "/cgroup.procs").is_empty() {
        assert!(Instant::now() < deadline, "tenant processes linger");
        std::thread::sleep(Duration::from_millis(20));
    }
    cg.remove().unwrap();
    assert!(!std::path::Path::new(&dir("memory")).exists());
}

#[test]
fn enter_refuses_to_lock_down_a_process_configure_did_not_start() {
    // This test runner is not pid 1 of a pid namespace of its own, so `enter` stops at its
    // first check (and never locks the runner down).
    // SAFETY: getpid cannot fail.
    if unsafe { libc::getpid() } == 1 {
        println!("skipped: this test runs as pid 1");
        return;
    }
    let err = wasmhub_sandbox::enter(&Policy::new("host")).unwrap_err();
    assert!(
        err.to_string().contains("wasmhub_sandbox::configure"),
        "{err}"
    );
}
