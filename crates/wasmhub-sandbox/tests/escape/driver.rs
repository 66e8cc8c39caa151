//! The driver: sets up what a worker must not reach, runs every case outside the sandbox,
//! behind its namespaces and cgroups alone, and inside it; checks each outcome.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream as StdUnixStream};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wasmhub_sandbox::{Policy, TenantCgroup};

use super::attempts::CASES;

/// The memory limit of the test tenant; the `memory` case allocates 64 MiB more.
const MEMORY_LIMIT: u64 = 256 << 20;

/// What a worker's run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The attempt worked.
    Ok,
    /// The attempt failed with this errno.
    Errno(i32),
    /// The worker was ended by this signal (not an OOM kill).
    Signal(i32),
    /// The worker was ended by the cgroup's OOM killer.
    Oom,
    /// Anything else (exit code, missing report): a test failure.
    Broken(String),
}

/// How a worker is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A plain child process: every attempt must work (the test has teeth).
    Outside,
    /// Started with `configure` (pid, net, ipc, uts and cgroup namespaces, the tenant's
    /// cgroups) but never calls `enter`: the outer wall alone.
    Namespaces,
    /// `configure` and `enter`: exactly the worker's sandbox.
    Inside,
}

impl Mode {
    /// The worker's command-line name of the mode.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Outside => "outside",
            Mode::Namespaces => "namespaces",
            Mode::Inside => "inside",
        }
    }

    /// The mode named `name`.
    pub fn parse(name: &str) -> Mode {
        [Mode::Outside, Mode::Namespaces, Mode::Inside]
            .into_iter()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("unknown mode {name}"))
    }
}

/// What `case` must come to in `mode`; `None` where that wall is not the one that stops it.
/// `configure` alone leaves the worker root in the host's user and mount namespaces (it
/// must still read its code): files, Unix sockets by path, /proc/PID/mem, exec and mount
/// are stopped by `enter`, which drops it to the tenant's host uid in an empty root.
///
/// The `files-*` cases hold a read-write and a read-only granted directory (outside and
/// behind `configure` alone opened plainly, inside as a worker opens them: idmapped to
/// the tenant's uid), so their worker may make file system calls: what stops them inside
/// is the empty root, the granted directory's own detached mount (`..` stays at its root),
/// its read-only mount and Landlock (`files-root`: the empty root itself), not seccomp.
fn expected(case: &str, mode: Mode) -> Option<Outcome> {
    Some(match (mode, case) {
        (Mode::Outside, _) | (_, "work" | "inspect" | "files-rw") => Outcome::Ok,
        (_, "memory") => Outcome::Oom,
        // The broker makes the granted connect and refuses everything else it is handed;
        // `sendmsg` (its address out of seccomp's sight) ends the worker.
        (Mode::Inside, "net-granted") => Outcome::Ok,
        (Mode::Inside, "net-sendmsg") => Outcome::Signal(libc::SIGSYS),
        (Mode::Inside, c) if c.starts_with("net-") => Outcome::Errno(libc::EACCES),
        (Mode::Namespaces, c) if c.starts_with("net-") => return None,
        (Mode::Inside, "files-ro-write") => Outcome::Errno(libc::EROFS),
        (Mode::Inside, "files-root") => Outcome::Errno(libc::EACCES),
        (Mode::Inside, c) if c.starts_with("files-") => Outcome::Errno(libc::ENOENT),
        (Mode::Inside, _) => Outcome::Signal(libc::SIGSYS),
        // Its network namespace has only a loopback that is down.
        (Mode::Namespaces, "inet") => Outcome::Errno(libc::ENETUNREACH),
        // Its pid namespace holds no other process.
        (Mode::Namespaces, "signal" | "ptrace") => Outcome::Errno(libc::ESRCH),
        // The tenant's pids cgroup.
        (Mode::Namespaces, "fork-bomb") => Outcome::Errno(libc::EAGAIN),
        (Mode::Namespaces, _) => return None,
    })
}

impl Fixture {
    /// The value of one of the workers' environment variables.
    fn envs_map(&self, name: &str) -> String {
        self.envs.iter().find(|(k, _)| k == name).unwrap().1.clone()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    code: std::fs::File,
    envs: Vec<(String, String)>,
    victim: Child,
    _tcp: TcpListener,
    _tcp_ungranted: TcpListener,
    _unix: UnixListener,
}

/// Runs the cases matching `filters` (all when empty); returns the exit code.
pub fn main(filters: &[&str]) -> i32 {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("escape: skipped: needs root (user namespaces mapped to a host uid, cgroups)");
        return 0;
    }
    for c in ["memory", "pids"] {
        if !Path::new("/sys/fs/cgroup")
            .join(c)
            .join("cgroup.procs")
            .exists()
        {
            println!("escape: skipped: cgroup v1 `{c}` is not mounted at /sys/fs/cgroup/{c}");
            return 0;
        }
    }
    let mut fx = fixture();
    let mut policy = Policy::new(format!("escape-test-{}", std::process::id()));
    policy.memory_limit_bytes = MEMORY_LIMIT;
    policy.max_processes = 32;
    let cgroup = TenantCgroup::create(&policy).expect("tenant cgroup");
    let mut failures = Vec::new();
    for case in CASES
        .iter()
        .chain(super::net::CASES)
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.contains(f)))
    {
        let mut line = format!("escape: {case:<14}");
        for mode in [Mode::Outside, Mode::Namespaces, Mode::Inside] {
            let Some(want) = expected(case, mode) else {
                continue;
            };
            let oom_before = cgroup.oom_kills().unwrap();
            let sandbox = (mode != Mode::Outside).then_some((&policy, &cgroup));
            let Run {
                outcome,
                stdout: out,
                stderr: err,
                properties,
            } = run(&fx, case, mode, sandbox);
            if let Some(props) = properties {
                let want = super::inspect::expected(mode);
                line.push_str(&format!(" {}: {props:?}", mode.name()));
                if props != want {
                    failures.push(format!(
                        "{case} {}: the running worker showed {props:?}, expected {want:?}",
                        mode.name()
                    ));
                }
            }
            let outcome = match outcome {
                Outcome::Signal(libc::SIGKILL) if cgroup.oom_kills().unwrap() > oom_before => {
                    Outcome::Oom
                }
                o => o,
            };
            line.push_str(&format!(" {}: {outcome:?}", mode.name()));
            if outcome != want {
                failures.push(format!(
                    "{case} {}: {outcome:?}, expected {want:?} (stderr: {err})",
                    mode.name()
                ));
            }
            // The component ran before the attempt and answered over the worker's socket:
            // the sandbox leaves a worker working.
            if !out.contains("component: Hello, sandbox!") || !out.contains("\nHello, sandbox!\n") {
                failures.push(format!(
                    "{case} {}: the component did not run (stdout: {out})",
                    mode.name()
                ));
            }
        }
        println!("{line}");
    }
    let _ = fx.victim.kill();
    let _ = fx.victim.wait();
    drop(fx.code);
    cgroup.remove().expect("remove the tenant cgroup");
    if failures.is_empty() {
        println!("escape: all cases held");
        0
    } else {
        for f in &failures {
            println!("escape: FAILED: {f}");
        }
        1
    }
}

/// The files, listeners and victim process the workers try to reach, and the worker's code.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let p = dir.path();
    // The supervisor's data is private to it (as wasmhub's cache and state directories
    // are): a worker that entered, another uid on the host, must not traverse it.
    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    for d in ["cache", "kv", "mnt", "grant-rw", "grant-ro"] {
        std::fs::create_dir(p.join(d)).unwrap();
    }
    // The granted directories (root's, inside the supervisor's private directory) and
    // what lies beside them.
    for d in ["grant-rw", "grant-ro"] {
        std::fs::write(p.join(d).join("note.txt"), "granted text\n").unwrap();
    }
    std::fs::write(p.join("secret.txt"), "host secret\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", p.join("grant-rw/abs-link")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", p.join("grant-rw/up-link")).unwrap();
    let wasm = std::fs::read(test_programs_artifacts::guest(
        test_programs_artifacts::GREET,
    ))
    .expect("greet guest");
    let cwasm = super::worker::engine()
        .precompile_component(&wasm)
        .expect("precompile greet");
    let cache_file = p.join("cache/greet.cwasm");
    std::fs::write(&cache_file, cwasm).unwrap();
    std::fs::write(p.join("kv/store"), "tenant-b secret").unwrap();
    let code = std::fs::File::open(&cache_file).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_ungranted = TcpListener::bind("127.0.0.1:0").unwrap();
    let unix_path = p.join("supervisor.sock");
    let unix = UnixListener::bind(&unix_path).unwrap();
    let victim = Command::new("sleep")
        .arg("600")
        .spawn()
        .expect("start sleep");
    let envs = vec![
        ("ESCAPE_CACHE_FILE", cache_file.display().to_string()),
        ("ESCAPE_KV_FILE", p.join("kv/store").display().to_string()),
        ("ESCAPE_MOUNT_DIR", p.join("mnt").display().to_string()),
        ("ESCAPE_GRANT_RW", p.join("grant-rw").display().to_string()),
        ("ESCAPE_GRANT_RO", p.join("grant-ro").display().to_string()),
        (
            "ESCAPE_TCP_PORT",
            tcp.local_addr().unwrap().port().to_string(),
        ),
        (
            "ESCAPE_TCP_PORT_UNGRANTED",
            tcp_ungranted.local_addr().unwrap().port().to_string(),
        ),
        ("ESCAPE_UNIX_SOCKET", unix_path.display().to_string()),
        ("ESCAPE_VICTIM_PID", victim.id().to_string()),
        (
            "ESCAPE_MEMORY_BYTES",
            (MEMORY_LIMIT + (64 << 20)).to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Fixture {
        _dir: dir,
        code,
        envs,
        victim,
        _tcp: tcp,
        _tcp_ungranted: tcp_ungranted,
        _unix: unix,
    }
}

/// What one worker run came to.
struct Run {
    outcome: Outcome,
    stdout: String,
    stderr: String,
    /// For the `inspect` case: the lock-down properties the running worker showed.
    properties: Option<Vec<&'static str>>,
}

/// Runs one worker for `case`, in the sandbox when `sandbox` is given.
fn run(fx: &Fixture, case: &str, mode: Mode, sandbox: Option<(&Policy, &TenantCgroup)>) -> Run {
    // The worker's socket: it receives its compiled code and a request over it.
    let (mut ours, theirs) = StdUnixStream::pair().unwrap();
    wasmhub_sandbox::send_fd(ours.as_raw_fd(), fx.code.as_raw_fd()).unwrap();
    ours.write_all(b"sandbox\n").unwrap();
    // The worker inherits its socket and, for `inspect`, a descriptor the supervisor
    // leaked by mistake (the key-value file), which `enter` must close.
    let leak =
        (case == "inspect").then(|| std::fs::File::open(fx.envs_map("ESCAPE_KV_FILE")).unwrap());
    for fd in [
        Some(theirs.as_raw_fd()),
        leak.as_ref().map(|f| f.as_raw_fd()),
    ]
    .into_iter()
    .flatten()
    {
        // SAFETY: clearing close-on-exec on a descriptor we own.
        assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }, 0);
    }
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--child",
        case,
        mode.name(),
        &theirs.as_raw_fd().to_string(),
    ])
    .envs(fx.envs.iter().map(|(k, v)| (k, v)))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some((policy, cgroup)) = sandbox {
        // The worker enters with the same policy (its tenant names its host id).
        cmd.env("ESCAPE_TENANT", &policy.tenant);
        wasmhub_sandbox::configure(&mut cmd, policy, Some(cgroup)).expect("configure");
    }
    let mut child = cmd.spawn().expect("spawn worker");
    drop(theirs);
    drop(leak);
    ours.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // A `net-*` worker that entered sends its socket-call listener first: broker its calls.
    let broker = (mode == Mode::Inside && case.starts_with("net-")).then(|| {
        let fd = wasmhub_sandbox::recv_fd(ours.as_raw_fd()).expect("the worker's listener");
        // SAFETY: recv_fd made this descriptor for us.
        let listener = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
        let broker = wasmhub_sandbox::SocketBroker::new(
            listener,
            super::net::check(fx._tcp.local_addr().unwrap()),
        );
        std::thread::spawn(move || broker.run())
    });
    let mut answer = String::new();
    let properties = (case == "inspect").then(|| {
        // The worker answered, so it has entered; it now waits for one byte.
        let mut line = std::io::BufReader::new(&ours);
        std::io::BufRead::read_line(&mut line, &mut answer).unwrap();
        let props = super::inspect::properties(child.id(), mode, sandbox.map(|(p, _)| p));
        (&ours).write_all(b"x").unwrap();
        props
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Some(broker) = broker {
        broker.join().unwrap(); // ends with the worker
    }
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    // The answer the worker sent over its socket.
    ours.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = ours.read_to_string(&mut answer);
    stdout.push_str(&answer);
    let outcome = if let Some(sig) = status.signal() {
        Outcome::Signal(sig)
    } else if stdout.contains("RESULT ok") && status.success() {
        Outcome::Ok
    } else if let Some(n) = stdout.lines().find_map(|l| l.strip_prefix("RESULT errno ")) {
        Outcome::Errno(n.trim().parse().unwrap_or(-1))
    } else {
        Outcome::Broken(format!("{status}"))
    };
    Run {
        outcome,
        stdout,
        stderr,
        properties,
    }
}
