//! `wasmhub serve` and `check`: routing, isolation, failures, limits, streaming, shutdown.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use test_programs_artifacts::{COUNTER_HTTP, ECHO_HTTP, GREET, HELLO_HTTP, MISBEHAVE_HTTP};

use super::harness::{Hub, g, golden};
use super::server::{Served, manifest, parse, request, toml_path};

fn app(hub: &Hub, extra: &str) -> String {
    manifest(
        hub,
        &format!(
            r#"[app]
name = "shop"

[component.hello]
source = {hello}
route = "/hello"

[component.counter]
source = {counter}
route = "/count/..."

[component.echo]
source = {echo}
route = "/echo"

[component.bad]
source = {bad}
route = "/bad/..."
{extra}"#,
            hello = toml_path(g(HELLO_HTTP)),
            counter = toml_path(g(COUNTER_HTTP)),
            echo = toml_path(g(ECHO_HTTP)),
            bad = toml_path(g(MISBEHAVE_HTTP)),
        ),
    )
}

#[test]
fn serves_a_lone_component_on_every_path() {
    let hub = Hub::new();
    let s = Served::start(&hub, &[g(HELLO_HTTP)]);
    for path in ["/", "/any/path?x=1"] {
        let r = s.get(path);
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "Hello, wasm!");
        assert_eq!(r.header("x-request-id").map(str::len), Some(16));
    }
}

#[test]
fn routes_longest_match_and_404() {
    let hub = Hub::new();
    let s = Served::start(&hub, &[&app(&hub, "")]);
    assert_eq!(s.get("/hello").text(), "Hello, wasm!");
    assert_eq!(s.get("/count").status, 200);
    assert_eq!(s.get("/count/deeper/still").status, 200);
    let missing = s.get("/hello/x");
    assert_eq!(missing.status, 404);
    assert!(
        missing.text().contains("no route matches /hello/x"),
        "{}",
        missing.text()
    );
    let log = s.wait_log("status=404");
    assert!(log.contains("wasmhub::access"), "{log}");
}

#[test]
fn every_request_gets_a_fresh_instance() {
    let hub = Hub::new();
    let s = Served::start(&hub, &[&app(&hub, "")]);
    for _ in 0..5 {
        assert_eq!(s.get("/count").text(), "1", "state leaked between requests");
    }
    let r = s.get("/count");
    let id = r.header("x-request-id").unwrap().to_owned();
    let log = s.wait_log(&format!("request_id={id} component=counter stream"));
    let line = log
        .lines()
        .find(|l| l.contains("counter-http: count is 1") && l.contains(&id));
    assert!(
        line.is_some(),
        "guest stderr is logged with the request id {id}: {log}"
    );
}

#[test]
fn guest_failures_hurt_only_their_request() {
    let hub = Hub::new();
    let s = Served::start(&hub, &["--request-timeout", "2s", &app(&hub, "")]);
    let cases = [
        ("/bad/trap", 500, "trap"),
        ("/bad/no-response", 500, "no-response"),
        ("/bad/twice", 500, "trap"),
        ("/bad/grow", 500, "trap"),
        ("/bad/loop", 504, "deadline"),
    ];
    for (path, status, kind) in cases {
        let start = Instant::now();
        let r = s.get(path);
        let id = r.header("x-request-id").unwrap().to_owned();
        if path == "/bad/twice" && r.status == 200 {
            // `twice` fails right after its first response: when that head is already out
            // (a loaded machine can pause the guest in between), the body must be cut.
            assert!(!r.complete, "{path}: a failed guest looked like a success");
            s.wait_log(&format!("request_id={id} outcome=\"cut\""));
        } else {
            assert_eq!(r.status, status, "{path}: {}", r.text());
            assert!(
                r.text().contains(&id),
                "{path}: the body names the request id: {}",
                r.text()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{path} took {:?}",
            start.elapsed()
        );
        let log = s.wait_log(&format!(
            "request_id={id} component=bad route=/bad/... kind=\"{kind}\""
        ));
        let line = log
            .lines()
            .find(|l| l.contains(&id) && l.contains("guest failed"))
            .unwrap_or_else(|| panic!("no failure line for {path} ({id}): {log}"));
        assert!(
            line.contains("component=bad") && line.contains("route=/bad/..."),
            "{line}"
        );
        // Healthy routes keep answering.
        assert_eq!(s.get("/hello").text(), "Hello, wasm!");
    }
    let log = s.log();
    let trap = log.lines().find(|l| l.contains("kind=\"trap\"")).unwrap();
    assert!(
        trap.contains("wasm backtrace") && trap.contains("misbehave_http"),
        "trap logs its backtrace: {trap}"
    );
}

#[test]
fn bodies_stream_both_ways() {
    let hub = Hub::new();
    let s = Served::start(&hub, &[&app(&hub, "")]);
    // 100 MB through the echo guest: the host's peak memory must not grow by the body.
    let body: Vec<u8> = (0..100u32 << 20).map(|i| (i % 251) as u8).collect();
    let before = peak_rss_kib(s.child.id());
    let r = request(s.addr, "POST", "/echo", &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), body.len());
    assert!(r.body == body, "echoed bytes differ");
    let grown = peak_rss_kib(s.child.id()) - before;
    assert!(
        grown < 40 << 10,
        "the host buffered the body: peak RSS grew {grown} KiB"
    );
}

/// Peak resident memory of a process, from /proc.
fn peak_rss_kib(pid: u32) -> i64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn over_the_instance_limit_is_503_not_a_queue() {
    let hub = Hub::new();
    let s = Served::start(&hub, &["--max-instances", "1", &app(&hub, "")]);
    let addr = s.addr;
    let slow = std::thread::spawn(move || request(addr, "GET", "/bad/sleep", &[]));
    std::thread::sleep(Duration::from_millis(300));
    let r = s.get("/hello");
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(slow.join().unwrap().text(), "slept");
    assert_eq!(s.get("/hello").status, 200);
}

#[test]
fn each_component_has_its_own_instance_limit() {
    let hub = Hub::new();
    let s = Served::start(
        &hub,
        &[&app(&hub, "\n[component.bad.budget]\ninstances = 2\n")],
    );
    let addr = s.addr;
    // At the limit: both slow requests are taken in.
    let slow: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || request(addr, "GET", "/bad/sleep", &[])))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // One past it: 503 for this component, and the log names the limit and the fix.
    let over = s.get("/bad/sleep");
    assert_eq!(over.status, 503);
    assert_eq!(over.header("retry-after"), Some("1"));
    assert!(
        over.text()
            .starts_with("too many requests in flight for this component; retry"),
        "{}",
        over.text()
    );
    s.wait_log(
        "component instance limit (2) reached; raise `instances` under [component.bad.budget] \
         or --max-component-instances",
    );
    // Other components keep their own slots.
    assert_eq!(s.get("/hello").status, 200);
    for t in slow {
        assert_eq!(t.join().unwrap().text(), "slept");
    }
    assert_eq!(s.get("/bad/ok").status, 200);
}

#[test]
fn by_default_one_component_takes_at_most_half_the_host() {
    let hub = Hub::new();
    // Four routed components and a host limit of 2: each may hold one instance.
    let s = Served::start(&hub, &["--max-instances", "2", &app(&hub, "")]);
    let addr = s.addr;
    let slow = std::thread::spawn(move || request(addr, "GET", "/bad/sleep", &[]));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.get("/bad/sleep").status, 503);
    assert_eq!(s.get("/hello").status, 200);
    assert_eq!(slow.join().unwrap().text(), "slept");
}

#[test]
fn sigterm_drains_in_flight_requests() {
    let hub = Hub::new();
    let mut s = Served::start(&hub, &[&app(&hub, "")]);
    let addr = s.addr;
    let slow = std::thread::spawn(move || request(addr, "GET", "/bad/sleep", &[]));
    std::thread::sleep(Duration::from_millis(300));
    s.sigterm();
    assert_eq!(
        slow.join().unwrap().text(),
        "slept",
        "the in-flight request completes"
    );
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn an_address_in_use_is_refused() {
    let hub = Hub::new();
    let first = Served::start(&hub, &[g(HELLO_HTTP)]);
    let r = hub.run(&["serve", "--addr", &first.addr.to_string(), g(HELLO_HTTP)]);
    assert_eq!(r.code, 2);
    let expected = format!("cannot listen on {}; pick another --addr", first.addr);
    assert!(r.stderr.contains(&expected), "{}", r.stderr);
    assert_eq!(first.get("/").status, 200);
}

#[test]
fn http2_cleartext() {
    let hub = Hub::new();
    let s = Served::start(&hub, &[g(HELLO_HTTP)]);
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "--http2-prior-knowledge",
            "-w",
            " %{http_version}",
        ])
        .arg(format!("http://{}/", s.addr))
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, wasm! 2");
}

fn check_fails(hub: &Hub, text: &str) -> String {
    let path = manifest(hub, text);
    let r = hub.run(&["check", &path]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    hub.normalize(&r.stderr)
}

#[test]
fn check_reports_manifest_errors() {
    let hub = Hub::new();
    let ok = hub.run(&["check", &app(&hub, "")]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.contains("component \"counter\" /count/... -> "),
        "{}",
        ok.stdout
    );

    let head = format!(
        "[app]\nname = \"shop\"\n\n[component.hello]\nsource = {}\n",
        toml_path(g(HELLO_HTTP))
    );
    golden(
        "manifest-unknown-key",
        &check_fails(&hub, &format!("{head}rout = \"/x\"\n")),
    );
    golden(
        "manifest-bad-route",
        &check_fails(&hub, &format!("{head}route = \"hello\"\n")),
    );
    golden(
        "manifest-duplicate-route",
        &check_fails(
            &hub,
            &format!(
                "{head}route = \"/x\"\n\n[component.again]\nsource = {}\nroute = \"/x\"\n",
                toml_path(g(HELLO_HTTP))
            ),
        ),
    );
    golden(
        "manifest-missing-source",
        &check_fails(
            &hub,
            "[app]\nname = \"shop\"\n\n[component.x]\nsource = \"nope.wasm\"\nroute = \"/x\"\n",
        ),
    );
    golden(
        "manifest-wrong-type",
        &check_fails(&hub, &format!("{head}route = 42\n")),
    );
    golden(
        "manifest-zero-instances",
        &check_fails(
            &hub,
            &format!("{head}route = \"/x\"\n\n[component.hello.budget]\ninstances = 0\n"),
        ),
    );
    golden(
        "manifest-not-http",
        &check_fails(
            &hub,
            &format!(
                "[app]\nname = \"shop\"\n\n[component.lib]\nsource = {}\nroute = \"/lib\"\n",
                toml_path(g(GREET))
            ),
        ),
    );
}

#[test]
fn limits_on_body_and_headers() {
    let hub = Hub::new();
    let s = Served::start(
        &hub,
        &[
            "--max-body-bytes",
            "1000",
            "--max-header-bytes",
            "8192",
            &app(&hub, ""),
        ],
    );
    let small = request(s.addr, "POST", "/echo", &[7u8; 1000]);
    assert_eq!(small.status, 200);
    assert_eq!(small.body.len(), 1000);
    let big = request(s.addr, "POST", "/echo", &[7u8; 1001]);
    assert_eq!(big.status, 413);
    assert!(big.text().contains("at most 1000"), "{}", big.text());

    let huge_header = format!("/hello?{}", "x".repeat(20_000));
    let r = s.get(&huge_header);
    assert_eq!(r.status, 431, "oversized head");
    assert_eq!(s.get("/hello").status, 200);
}

#[test]
fn prometheus_metrics() {
    let hub = Hub::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = Served::start(&hub, &["--metrics-addr", &port.to_string(), &app(&hub, "")]);
    s.get("/hello");
    s.get("/bad/trap");
    s.get("/missing");
    let m = request(port, "GET", "/metrics", &[]).text();
    assert!(m.contains("wasmhub_requests_total{class=\"2xx\"} 1"), "{m}");
    assert!(m.contains("wasmhub_requests_total{class=\"5xx\"} 1"), "{m}");
    assert!(m.contains("wasmhub_requests_total{class=\"4xx\"} 1"), "{m}");
    assert!(
        m.contains("wasmhub_guest_failures_total{kind=\"trap\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("wasmhub_request_duration_seconds_count 3"),
        "{m}"
    );
    assert!(m.contains("wasmhub_live_instances 0"), "{m}");
    assert_eq!(
        s.get("/metrics").status,
        404,
        "metrics never sit on the app's address"
    );
    // A client cannot ask a worker for its counts: the header reaches no worker.
    let mut c = std::net::TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(
        b"GET /hello HTTP/1.1\r\nhost: x\r\nx-wasmhub-worker-report: 1\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).unwrap();
    assert_eq!(parse(&raw).text(), "Hello, wasm!");
}
