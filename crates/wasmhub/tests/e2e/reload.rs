//! Reloading a running server (`POST /-/reload` on the admin listener, SIGHUP): requests
//! that arrive after a reload is acknowledged run in the new generation, requests in flight
//! finish in theirs, a reload that fails changes nothing, and the code of unchanged
//! components is not loaded again.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;
use test_programs_artifacts::{HELLO_HTTP, MISBEHAVE_HTTP, VERSION_HTTP};

use super::harness::{Hub, g};
use super::server::{Resp, Served, manifest, parse, request, toml_path};

/// An app: `version` (answers its VERSION grant) at `/v/...`, and `hello` from `hello` at
/// `/hello`; `extra` is appended.
pub(super) fn app(version: &str, hello: &str, extra: &str) -> String {
    format!(
        "[app]\nname = \"reload\"\n\n[component.version]\nsource = {}\nroute = \"/v/...\"\n\n\
         [component.version.grant]\nenv = [\"VERSION={version}\"]\n\n\
         [component.hello]\nsource = {}\nroute = \"/hello\"\n{extra}",
        toml_path(g(VERSION_HTTP)),
        toml_path(hello),
    )
}

/// Serves the manifest `text` with an admin and a metrics listener, its compile-cache loads
/// logged (`component loaded`; a worker's code mapped from its snapshot), and `extra` flags.
pub(super) fn start(hub: &Hub, text: &str, extra: &[&str]) -> Served {
    let path = manifest(hub, text);
    let mut args = vec![
        "--admin-addr",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    args.push(&path);
    let filter = "info,wasmhub_core=debug,wasmhub_http::worker::snapshot=debug";
    Served::start_logging(hub, &args, filter)
}

/// `POST /-/reload`.
pub(super) fn reload(s: &Served) -> Resp {
    request(
        s.admin.expect("an admin listener"),
        "POST",
        "/-/reload",
        b"",
    )
}

/// A reload that must succeed: its JSON answer.
pub(super) fn reload_ok(s: &Served) -> Value {
    let r = reload(s);
    assert_eq!(r.status, 200, "reload refused: {}", r.text());
    let answer: Value =
        serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()));
    // The log is read from the server's stderr by another thread: wait until it has caught
    // up with this reload (whose lines come after those of its loads).
    s.wait_log(&format!("reloaded: generation {}", answer["generation"]));
    answer
}

/// The names in the answer's list `what`.
pub(super) fn names(answer: &Value, what: &str) -> Vec<String> {
    answer[what]
        .as_array()
        .unwrap_or_else(|| panic!("no {what} in {answer}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The server's `/metrics` text.
pub(super) fn metrics(s: &Served) -> String {
    request(
        s.metrics.expect("a metrics listener"),
        "GET",
        "/metrics",
        b"",
    )
    .text()
}

/// How many components the server itself has loaded (compiled, or mapped from the compile
/// cache); its workers' loads (`isolation = "process"`), logged in a `worker{..}` span on the
/// same stderr, are not counted.
fn loads(s: &Served) -> usize {
    load_lines(s).filter(|l| !l.contains(WORKER_SPAN)).count()
}

/// How a worker's log lines are told apart: its span (`worker{sandbox=PID-TENANT}`).
const WORKER_SPAN: &str = " worker{sandbox=";

/// The `component loaded` lines of the server and its workers.
fn load_lines(s: &Served) -> impl Iterator<Item = String> {
    let log = s.log();
    let loads = log.lines().filter(|l| l.contains("component loaded"));
    loads.map(String::from).collect::<Vec<_>>().into_iter()
}

/// Waits (up to 20 s) until the workers have logged `n` mappings of `component`'s code
/// (the server's, from their snapshots: a worker never loads a component file); how many
/// they logged.
fn worker_maps_of(s: &Served, component: &str, n: usize) -> usize {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let log = s.log();
        let count = log
            .lines()
            .filter(|l| {
                l.contains(WORKER_SPAN) && l.contains("code mapped from the worker's snapshot")
            })
            .filter(|l| l.contains(&format!("component={component} ")))
            .count();
        if count >= n || std::time::Instant::now() > until {
            return count;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_reload_serves_the_changed_app_and_loads_only_new_code() {
    let hub = Hub::new();
    let svc = hub.tmp.path().join("svc.wasm");
    std::fs::copy(g(HELLO_HTTP), &svc).unwrap();
    let svc = svc.display().to_string();
    // No compile cache: loading a component is compiling it.
    let s = start(&hub, &app("v1", &svc, ""), &["--no-cache"]);
    assert_eq!(s.get("/v/x").text(), "v1");
    assert_eq!(s.get("/hello").text(), "Hello, wasm!");
    // Logged once the app is prepared, after its loads.
    s.wait_log("memory reset between requests");
    assert_eq!(loads(&s), 2, "{}", s.log());
    // In process mode each tenant's worker maps the code its server loaded, told apart in
    // the log.
    let process = super::server::isolation(&[]).iter().any(|a| a == "process");
    if process {
        assert!(worker_maps_of(&s, "hello", 1) >= 1, "{}", s.log());
    }

    // A grant changes: the component is changed, its code is reused.
    manifest(&hub, &app("v2", &svc, ""));
    let answer = reload_ok(&s);
    assert_eq!(answer["generation"], 2, "{answer}");
    assert_eq!(names(&answer, "changed"), ["version"]);
    assert_eq!(names(&answer, "unchanged"), ["hello"]);
    assert!(names(&answer, "added").is_empty() && names(&answer, "removed").is_empty());
    assert!(names(&answer, "loaded").is_empty(), "{answer}");
    assert_eq!(s.get("/v/x").text(), "v2");
    assert_eq!(
        loads(&s),
        2,
        "unchanged code was compiled again: {}",
        s.log()
    );
    let log = s.wait_log("generation 1 freed");
    assert!(log.contains("generation 1 freed"), "{log}");
    assert!(
        log.contains("reloaded: generation 2 (changed: version; unchanged: hello)"),
        "{log}"
    );

    // New bytes at the same path: compiled, once.
    std::fs::copy(g(MISBEHAVE_HTTP), &svc).unwrap();
    let answer = reload_ok(&s);
    assert_eq!(answer["generation"], 3, "{answer}");
    assert_eq!(names(&answer, "changed"), ["hello"]);
    assert_eq!(names(&answer, "unchanged"), ["version"]);
    assert_eq!(names(&answer, "loaded"), ["hello"]);
    assert_eq!(s.get("/hello").text(), "ok");
    assert_eq!(s.get("/v/x").text(), "v2");
    assert_eq!(loads(&s), 3, "{}", s.log());
    if process {
        // The worker that answered /hello in generation 3 mapped its code too.
        assert!(worker_maps_of(&s, "hello", 2) >= 2, "{}", s.log());
    }

    // Nothing changed: a new generation, every component unchanged, nothing loaded.
    let answer = reload_ok(&s);
    assert_eq!(answer["generation"], 4);
    assert_eq!(names(&answer, "unchanged"), ["hello", "version"]);
    assert!(names(&answer, "changed").is_empty() && names(&answer, "loaded").is_empty());
    assert_eq!(loads(&s), 3, "{}", s.log());

    // A component added, then removed.
    let more = format!(
        "\n[component.greeter]\nsource = {}\nroute = \"/greeter\"\n",
        toml_path(g(HELLO_HTTP))
    );
    manifest(&hub, &app("v2", &svc, &more));
    let answer = reload_ok(&s);
    assert_eq!(names(&answer, "added"), ["greeter"]);
    assert_eq!(s.get("/greeter").text(), "Hello, wasm!");
    manifest(&hub, &app("v2", &svc, ""));
    let answer = reload_ok(&s);
    assert_eq!(names(&answer, "removed"), ["greeter"]);
    assert_eq!(s.get("/greeter").status, 404);

    let m = metrics(&s);
    assert!(m.contains("wasmhub_generation 6\n"), "{m}");
    assert!(
        m.contains("wasmhub_reloads_total{outcome=\"ok\"} 5\n"),
        "{m}"
    );
}

#[test]
fn a_reload_that_fails_changes_nothing_and_says_why() {
    let hub = Hub::new();
    let hello = g(HELLO_HTTP);
    let s = start(&hub, &app("v1", hello, ""), &[]);
    assert_eq!(s.get("/v/x").text(), "v1");
    let link = "\n[component.hello.link]\n\"acme:pricing/calc\" = \"version\"\n";
    let missing = hub.tmp.path().join("missing.wasm").display().to_string();
    let cases: [(String, &str); 6] = [
        ("[app\nname = ".into(), "wasmhub.toml"),
        (app("v2", &missing, ""), "missing.wasm"),
        (app("v2", hello, link), "acme:pricing/calc"),
        (
            app("v2", hello, "").replace(
                "[component.version.grant]\n",
                "[component.version.grant]\nstdio = false\n",
            ),
            "stdio",
        ),
        (app("v2", hello, "\n[component.hello]\n"), "wasmhub.toml"),
        (
            app("v2", hello, "").replace(
                "route = \"/hello\"\n",
                "route = \"/hello\"\nwasi = \"0.3\"\n",
            ),
            "restart to apply",
        ),
    ];
    for (text, needle) in &cases {
        manifest(&hub, text);
        let r = reload(&s);
        assert_eq!(r.status, 422, "{text}: {}", r.text());
        assert!(r.text().contains(needle), "{needle:?} not in {}", r.text());
        // The running generation keeps serving, unchanged.
        assert_eq!(s.get("/v/x").text(), "v1");
        assert_eq!(s.get("/hello").text(), "Hello, wasm!");
    }
    let log = s.log();
    assert!(
        log.contains("reload failed; generation 1 keeps serving"),
        "{log}"
    );
    assert!(log.contains("restart to apply"), "{log}");
    let m = metrics(&s);
    assert!(
        m.contains("wasmhub_reloads_total{outcome=\"failed\"} 6\n"),
        "{m}"
    );
    assert!(m.contains("wasmhub_generation 1\n"), "{m}");
    // The next good reload is generation 2.
    manifest(&hub, &app("v2", hello, ""));
    assert_eq!(reload_ok(&s)["generation"], 2);
    assert_eq!(s.get("/v/x").text(), "v2");
}

#[test]
fn sighup_reloads() {
    let hub = Hub::new();
    let s = start(&hub, &app("v1", g(HELLO_HTTP), ""), &[]);
    assert_eq!(s.get("/v/x").text(), "v1");
    manifest(&hub, &app("v2", g(HELLO_HTTP), ""));
    let pid = s.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let log = s.wait_log("reloaded: generation 2");
    assert!(log.contains("reloaded: generation 2"), "{log}");
    assert_eq!(s.get("/v/x").text(), "v2");
}

#[test]
fn the_admin_listener_is_loopback_unless_allowed() {
    let hub = Hub::new();
    let path = manifest(&hub, &app("v1", g(HELLO_HTTP), ""));
    // Refused before listening; bounded, so a server that did listen is stopped.
    let mut child = hub
        .cmd()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--admin-addr",
            "0.0.0.0:0",
            &path,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{stderr}");
    assert!(stderr.contains("--admin-allow-remote"), "{stderr}");
    let s = start(&hub, &app("v1", g(HELLO_HTTP), ""), &[]);
    let admin = s.admin.unwrap();
    assert_eq!(request(admin, "GET", "/-/reload", b"").status, 405);
    assert_eq!(request(admin, "POST", "/elsewhere", b"").status, 404);
}

/// A request to `/v/slow` whose body the client ends when it chooses: the guest answers
/// `start VERSION` at once and `end VERSION` once the body has ended.
pub(super) struct Slow {
    s: TcpStream,
    raw: Vec<u8>,
}

impl Slow {
    pub(super) fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.write_all(
            b"POST /v/slow HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\
              connection: close\r\n\r\n",
        )?;
        Ok(Self { s, raw: Vec::new() })
    }

    /// The version it started on.
    pub(super) fn started(&mut self) -> String {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(at) = find(&self.raw, b"start ").map(|p| p + 6)
                && let Some(end) = self.raw[at..].iter().position(|b| *b == b'\n')
            {
                return String::from_utf8_lossy(&self.raw[at..at + end]).into_owned();
            }
            match self.s.read(&mut buf) {
                Ok(0) | Err(_) => {
                    return format!("(no start: {:?})", String::from_utf8_lossy(&self.raw));
                }
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Ends the request body; the whole response.
    pub(super) fn finish(mut self) -> Resp {
        self.s.write_all(b"0\r\n\r\n").unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match self.s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("reading the slow response: {e}"),
            }
        }
        parse(&self.raw)
    }
}

/// Where `needle` first occurs in `hay`.
pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn a_request_in_flight_finishes_in_its_generation() {
    let hub = Hub::new();
    let s = start(&hub, &app("v1", g(HELLO_HTTP), ""), &[]);
    let mut slow = Slow::start(s.addr).unwrap();
    assert_eq!(slow.started(), "v1");
    manifest(&hub, &app("v2", g(HELLO_HTTP), ""));
    assert_eq!(reload_ok(&s)["generation"], 2);
    // Acknowledged: new requests run in generation 2, on new and on open connections.
    assert_eq!(s.get("/v/x").text(), "v2");
    // The slow request still holds generation 1 (it cannot end before its body does).
    std::thread::sleep(Duration::from_millis(300));
    assert!(!s.log().contains("generation 1 freed"), "{}", s.log());
    let resp = slow.finish();
    assert_eq!(resp.status, 200);
    assert!(resp.complete, "{}", resp.text());
    assert_eq!(resp.text(), "start v1\nend v1\n");
    let log = s.wait_log("generation 1 freed");
    assert!(log.contains("generation 1 freed"), "{log}");
}
