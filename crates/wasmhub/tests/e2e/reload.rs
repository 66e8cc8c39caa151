//! Reloading a running server (`POST /-/reload` on the admin listener, SIGHUP): requests
//! that arrive after a reload is acknowledged run in the new generation, requests in flight
//! finish in theirs, a reload that fails changes nothing, and the code of unchanged
//! components is not loaded again.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use test_programs_artifacts::{HELLO_HTTP, MISBEHAVE_HTTP, VERSION_HTTP};

use super::harness::{Hub, g};
use super::server::{Resp, Served, manifest, parse, request, toml_path};

/// An app: `version` (answers its VERSION grant) at `/v/...`, and `hello` from `hello` at
/// `/hello`; `extra` is appended.
fn app(version: &str, hello: &str, extra: &str) -> String {
    format!(
        "[app]\nname = \"reload\"\n\n[component.version]\nsource = {}\nroute = \"/v/...\"\n\n\
         [component.version.grant]\nenv = [\"VERSION={version}\"]\n\n\
         [component.hello]\nsource = {}\nroute = \"/hello\"\n{extra}",
        toml_path(g(VERSION_HTTP)),
        toml_path(hello),
    )
}

/// Serves the manifest `text` with an admin and a metrics listener, its compile-cache loads
/// logged (`component loaded`), and `extra` flags.
fn start(hub: &Hub, text: &str, extra: &[&str]) -> Served {
    let path = manifest(hub, text);
    let mut args = vec![
        "--admin-addr",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    args.push(&path);
    Served::start_logging(hub, &args, "info,wasmhub_core=debug")
}

/// `POST /-/reload`.
fn reload(s: &Served) -> Resp {
    request(
        s.admin.expect("an admin listener"),
        "POST",
        "/-/reload",
        b"",
    )
}

/// A reload that must succeed: its JSON answer.
fn reload_ok(s: &Served) -> Value {
    let r = reload(s);
    assert_eq!(r.status, 200, "reload refused: {}", r.text());
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

/// The names in the answer's list `what`.
fn names(answer: &Value, what: &str) -> Vec<String> {
    answer[what]
        .as_array()
        .unwrap_or_else(|| panic!("no {what} in {answer}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The server's `/metrics` text.
fn metrics(s: &Served) -> String {
    request(
        s.metrics.expect("a metrics listener"),
        "GET",
        "/metrics",
        b"",
    )
    .text()
}

/// How many components the server has loaded (compiled, or mapped from the compile cache).
fn loads(s: &Served) -> usize {
    s.log().matches("component loaded").count()
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
    assert_eq!(loads(&s), 2, "{}", s.log());

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
    let r = hub.run(&["serve", "--admin-addr", "0.0.0.0:0", &path]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--admin-allow-remote"), "{}", r.stderr);
    let s = start(&hub, &app("v1", g(HELLO_HTTP), ""), &[]);
    let admin = s.admin.unwrap();
    assert_eq!(request(admin, "GET", "/-/reload", b"").status, 405);
    assert_eq!(request(admin, "POST", "/elsewhere", b"").status, 404);
}

/// A request to `/v/slow` whose body the client ends when it chooses: the guest answers
/// `start VERSION` at once and `end VERSION` once the body has ended.
struct Slow {
    s: TcpStream,
    raw: Vec<u8>,
}

impl Slow {
    fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.write_all(
            b"POST /v/slow HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\
              connection: close\r\n\r\n",
        )?;
        Ok(Self { s, raw: Vec::new() })
    }

    /// The version it started on.
    fn started(&mut self) -> String {
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
    fn finish(mut self) -> Resp {
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
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

/// One `GET /v/x`: on `conn` (kept alive, opened when `None`) or on a new connection that
/// the server closes; the answer, or what went wrong.
fn get_version(addr: SocketAddr, conn: Option<&mut Option<TcpStream>>) -> Result<Resp, String> {
    let keep = conn.is_some();
    let mut fresh = None;
    let slot = conn.unwrap_or(&mut fresh);
    if slot.is_none() {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        *slot = Some(s);
    }
    let s = slot.as_mut().unwrap();
    let head = if keep {
        "GET /v/x HTTP/1.1\r\nhost: x\r\n\r\n"
    } else {
        "GET /v/x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    };
    let result = exchange(s, head.as_bytes(), keep);
    if result.is_err() || !keep {
        *slot = None;
    }
    result
}

/// Writes `head` and reads one response: to its end on a kept-alive connection (its
/// length or its last chunk), else until the server closes.
fn exchange(s: &mut TcpStream, head: &[u8], keep: bool) -> Result<Resp, String> {
    s.write_all(head).map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if keep && let Some(end) = find(&raw, b"\r\n\r\n") {
            let resp = parse(&raw);
            let length = resp.header("content-length").and_then(|n| n.parse().ok());
            let done = match length {
                Some(n) => raw.len() - end - 4 >= n,
                None => resp.complete,
            };
            if done {
                return Ok(resp);
            }
        }
        match s.read(&mut buf) {
            Ok(0) if !keep && !raw.is_empty() => return Ok(parse(&raw)),
            Ok(0) => return Err(format!("closed: {:?}", String::from_utf8_lossy(&raw))),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}: {:?}", String::from_utf8_lossy(&raw))),
        }
    }
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Stops the load when dropped, so a failed assertion never leaves clients running.
struct Stop(Arc<AtomicBool>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The "reload under load": 32 clients (16 on kept-alive connections, 16 on a new
/// connection per request) and 4 slow streaming requests at a time run through 100
/// reloads, every 10th one bad. Each good reload sets VERSION to the generation it makes,
/// so an answer names the generation it ran in: none may be older than the last reload
/// acknowledged before its request was sent. Slow requests span several reloads and end on
/// the version they started with. Every replaced generation is freed, and the resident
/// memory ends within 64 MiB or half again of what it was under load before the reloads.
#[test]
fn reload_under_load() {
    let hub = Hub::new();
    let hello = g(HELLO_HTTP);
    let s = start(&hub, &app("1", hello, ""), &[]);
    let addr = s.addr;
    let acked = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let _stop = Stop(stop.clone());
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let answered = Arc::new(AtomicU64::new(0));
    let slow_done = Arc::new(AtomicU64::new(0));
    let fail = |failures: &Mutex<Vec<String>>, what: String| {
        let mut f = failures.lock().unwrap();
        if f.len() < 20 {
            f.push(what);
        } else {
            f.push(String::new());
        }
    };
    let mut clients = Vec::new();
    for i in 0..32 {
        let (acked, stop, failures, answered) = (
            acked.clone(),
            stop.clone(),
            failures.clone(),
            answered.clone(),
        );
        clients.push(std::thread::spawn(move || {
            let mut conn = None;
            while !stop.load(Ordering::SeqCst) {
                let floor = acked.load(Ordering::SeqCst);
                let result = if i % 2 == 0 {
                    get_version(addr, Some(&mut conn))
                } else {
                    // Leave the CPU to the others now and then (2 cores, shared).
                    std::thread::sleep(Duration::from_millis(2));
                    get_version(addr, None)
                };
                match result {
                    Ok(r) if r.status == 200 && r.complete => {
                        let v: u64 = r.text().parse().unwrap_or(0);
                        if v < floor {
                            fail(
                                &failures,
                                format!("generation {v} answered after {floor} was acknowledged"),
                            );
                        }
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => fail(&failures, format!("{} {:?}", r.status, r.text())),
                    Err(e) => fail(&failures, e),
                }
            }
        }));
    }
    for _ in 0..4 {
        let (acked, stop, failures, slow_done) = (
            acked.clone(),
            stop.clone(),
            failures.clone(),
            slow_done.clone(),
        );
        clients.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let floor = acked.load(Ordering::SeqCst);
                let mut slow = match Slow::start(addr) {
                    Ok(slow) => slow,
                    Err(e) => {
                        fail(&failures, format!("slow: {e}"));
                        continue;
                    }
                };
                let started = slow.started();
                if started.parse::<u64>().is_ok_and(|v| v < floor)
                    || started.parse::<u64>().is_err()
                {
                    fail(
                        &failures,
                        format!("slow started on {started} after {floor} was acknowledged"),
                    );
                }
                // Live through three more reloads (or to the end of the run).
                let until = Instant::now() + Duration::from_secs(30);
                while acked.load(Ordering::SeqCst) < floor + 3
                    && !stop.load(Ordering::SeqCst)
                    && Instant::now() < until
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let resp = slow.finish();
                let want = format!("start {started}\nend {started}\n");
                if resp.status != 200 || !resp.complete || resp.text() != want {
                    fail(
                        &failures,
                        format!("slow: {} {:?}, wanted {want:?}", resp.status, resp.text()),
                    );
                } else {
                    slow_done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Warm up under load (instance slots, connections), then take the memory baseline.
    let warm = Instant::now() + Duration::from_secs(2);
    while Instant::now() < warm || answered.load(Ordering::Relaxed) < 200 {
        assert!(
            warm.elapsed() < Duration::from_secs(60),
            "no answers under load"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = s.child.id();
    let rss_start = rss_kib(pid);

    let started = Instant::now();
    let mut generation = 1;
    let missing = hub.tmp.path().join("missing.wasm").display().to_string();
    let bad = [
        "[app\nname = ".to_owned(),
        app("x", &missing, ""),
        app(
            "x",
            hello,
            "\n[component.hello.link]\n\"acme:pricing/calc\" = \"version\"\n",
        ),
        app("x", hello, "").replace(
            "route = \"/hello\"\n",
            "route = \"/hello\"\nwasi = \"0.3\"\n",
        ),
    ];
    for k in 1..=100 {
        if k % 10 == 0 {
            manifest(&hub, &bad[(k / 10) % bad.len()]);
            let r = reload(&s);
            assert_eq!(r.status, 422, "bad reload {k} accepted: {}", r.text());
            continue;
        }
        let next = generation + 1;
        manifest(&hub, &app(&next.to_string(), hello, ""));
        let answer = reload_ok(&s);
        assert_eq!(answer["generation"], next, "{answer}");
        assert_eq!(names(&answer, "changed"), ["version"], "{answer}");
        acked.store(next, Ordering::SeqCst);
        generation = next;
        // Let requests run in this generation before the next reload.
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("a client panicked");
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed or stale requests of {}, first: {:#?}",
        failures.len(),
        answered.load(Ordering::Relaxed),
        &failures[..failures.len().min(20)]
    );
    assert!(
        slow_done.load(Ordering::Relaxed) >= 4,
        "too few slow requests completed"
    );
    assert_eq!(generation, 91);
    // Every replaced generation is freed once its last request has ended.
    let log = s.wait_log(&format!("generation {} freed", generation - 1));
    for n in 1..generation {
        assert!(
            log.contains(&format!("generation {n} freed\n")),
            "generation {n} not freed"
        );
    }
    assert!(!log.contains(&format!("generation {generation} freed")));
    let rss_end = rss_kib(pid);
    let slack = (rss_start / 2).max(64 << 10);
    assert!(
        rss_end <= rss_start + slack,
        "resident memory grew from {rss_start} KiB to {rss_end} KiB over 90 reloads"
    );
    let m = metrics(&s);
    assert!(
        m.contains("wasmhub_reloads_total{outcome=\"ok\"} 90\n"),
        "{m}"
    );
    assert!(
        m.contains("wasmhub_reloads_total{outcome=\"failed\"} 10\n"),
        "{m}"
    );
    eprintln!(
        "reload under load: 100 reloads in {took:?}, {} answers, {} slow requests, \
         rss {rss_start} -> {rss_end} KiB",
        answered.load(Ordering::Relaxed),
        slow_done.load(Ordering::Relaxed)
    );
}
