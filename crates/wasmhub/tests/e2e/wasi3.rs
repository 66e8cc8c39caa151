//! WASI 0.3 (native async) as an opt-in: `run` of a wasi:cli 0.3 command, `invoke` of
//! `async func` exports with stream and future results, budgets across awaits.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use test_programs_artifacts::{ASYNC_GREET, CLI3, GREET, HELLO_HTTP, HELLO_HTTP3, MISBEHAVE_HTTP3};

use super::harness::{Hub, assert_fails_with, g};
use super::server::{Served, manifest, parse, read_until, read_until_closed, request, toml_path};

const OPT_IN: &str = "uses the component model's async ABI (`async func`, `stream`, `future`: WASI 0.3), which is opt-in: run it with `--wasi 0.3`, or write `wasi = \"0.3\"` under its [component.NAME] in the manifest";

#[test]
fn wasi3_is_opt_in_and_says_how() {
    let hub = Hub::new();
    assert_fails_with(&hub.run(&["run", g(CLI3)]), OPT_IN);
    assert_fails_with(
        &hub.run(&["invoke", g(ASYNC_GREET), r#"greet("x")"#]),
        OPT_IN,
    );
    let r = hub.run(&["invoke", "--wasi", "0.4", g(GREET), r#"greet("x")"#]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "unknown WASI version `0.4`: write \"0.2\" (the default) or \"0.3\" (native async)"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn a_wasi3_command_runs_with_its_exit_status() {
    let hub = Hub::new();
    let r = hub.run(&["run", "--wasi", "0.3", g(CLI3), "a", "b"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "hello from wasi 0.3: a b\n"),
        "{}",
        r.stderr
    );
    let r = hub.run(&["run", "--wasi", "0.3", g(CLI3), "--fail"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // A 0.2 component runs unchanged with the 0.3 executor on.
    let r = hub.run(&["invoke", "--wasi", "0.3", g(GREET), r#"greet("both")"#]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"Hello, both!\""),
        "{}",
        r.stderr
    );
}

#[test]
fn async_exports_are_awaited_with_streams_and_futures_read_as_they_come() {
    let hub = Hub::new();
    let invoke = |call: &str| hub.run(&["invoke", "--wasi", "0.3", g(ASYNC_GREET), call]);
    let r = invoke(r#"greet("async")"#);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"Hello, async!\""),
        "{}",
        r.stderr
    );
    let started = Instant::now();
    let r = invoke(r#"slow(200, "late")"#);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"late after 200 ms\""),
        "{}",
        r.stderr
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    // A stream: each batch on stderr as it arrives, the whole list on stdout.
    let r = invoke("count(4)");
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "[97, 98, 99, 100]"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr
            .lines()
            .filter(|l| l.starts_with("received ["))
            .count(),
        4,
        "{}",
        r.stderr
    );
    // A future: its value once resolved.
    let r = hub.run(&[
        "invoke",
        "--wasi",
        "0.3",
        "--json",
        g(ASYNC_GREET),
        r#"later(50, "x")"#,
    ]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"later: x\""),
        "{}",
        r.stderr
    );
}

#[test]
fn budgets_hold_across_awaits() {
    let hub = Hub::new();
    // The deadline counts time the guest spends waiting, not only running.
    let started = Instant::now();
    let r = hub.run(&[
        "invoke",
        "--wasi",
        "0.3",
        "--deadline",
        "300ms",
        g(ASYNC_GREET),
        r#"slow(5000, "x")"#,
    ]);
    assert_fails_with(&r, "the component exceeded its deadline of 300 ms");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopped at the deadline"
    );
    let r = hub.run(&[
        "invoke",
        "--wasi",
        "0.3",
        "--deadline",
        "200ms",
        g(ASYNC_GREET),
        "spin()",
    ]);
    assert_fails_with(&r, "the component exceeded its deadline of 200 ms");
    let r = hub.run(&[
        "invoke",
        "--wasi",
        "0.3",
        "--fuel",
        "100000",
        g(ASYNC_GREET),
        "spin()",
    ]);
    assert_fails_with(
        &r,
        "the component ran out of fuel: it used all 100,000 units of its budget",
    );
}

#[test]
fn a_manifest_opts_one_component_in() {
    let hub = Hub::new();
    let path = manifest(
        &hub,
        &format!(
            "[app]\nname = \"mixed\"\n\n[component.fast]\nsource = {}\nwasi = \"0.3\"\n\n[component.classic]\nsource = {}\n",
            toml_path(g(ASYNC_GREET)),
            toml_path(g(GREET))
        ),
    );
    let r = hub.run(&[
        "invoke",
        &path,
        "--component",
        "fast",
        r#"greet("manifest")"#,
    ]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"Hello, manifest!\""),
        "{}",
        r.stderr
    );
    let r = hub.run(&["invoke", &path, "--component", "classic", r#"greet("0.2")"#]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"Hello, 0.2!\""),
        "{}",
        r.stderr
    );
    // An app with no route is valid for check (and invoke, above); only serve refuses it.
    let r = hub.run(&["check", &path]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "ok: app \"mixed\" is valid; it has no routed component, so `serve` would refuse it"
        ),
        "{}",
        r.stdout
    );
    let r = hub.run(&["serve", "--addr", "127.0.0.1:0", &path]);
    assert_fails_with(
        &r,
        "the app \"mixed\" has no routed component, so there is nothing to serve: give at least \
         one component a route = \"/...\"",
    );
    let bad = manifest(
        &hub,
        &format!(
            "[app]\nname = \"mixed\"\n\n[component.fast]\nsource = {}\nwasi = \"3\"\n",
            toml_path(g(ASYNC_GREET))
        ),
    );
    let r = hub.run(&["check", &bad]);
    assert_fails_with(&r, "wasmhub.toml:6");
    assert_fails_with(&r, "unknown WASI version `3`");
}

#[test]
fn a_wasi3_handler_is_served_beside_a_wasi2_one() {
    let hub = Hub::new();
    let path = manifest(
        &hub,
        &format!(
            "[app]\nname = \"mixed\"\n\n[component.new]\nsource = {}\nroute = \"/v3/...\"\nwasi = \"0.3\"\n\n[component.old]\nsource = {}\nroute = \"/v2/...\"\n",
            toml_path(g(HELLO_HTTP3)),
            toml_path(g(HELLO_HTTP))
        ),
    );
    let s = Served::start(&hub, &["--request-timeout", "1s", &path]);
    for route in ["/v3/hello", "/v2/hello", "/v3/again"] {
        let r = s.get(route);
        assert_eq!(
            (r.status, r.text()),
            (200, "Hello, wasm!".to_owned()),
            "{route}"
        );
        assert_eq!(r.header("content-type"), Some("text/plain"), "{route}");
        assert!(r.header("x-request-id").is_some(), "{route}");
    }
    // The body streams after the handler returned: three chunks, 100 ms apart.
    let started = Instant::now();
    let r = s.get("/v3/stream");
    assert_eq!(
        (r.status, r.text()),
        (200, "chunk 0\nchunk 1\nchunk 2\n".to_owned())
    );
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    // A guest that never answers ends at the deadline; the others keep being served.
    let r = s.get("/v3/spin");
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(
        r.text()
            .contains("did not answer within its deadline of 1s (component \"new\""),
        "{}",
        r.text()
    );
    let r = s.get("/v3/hello");
    assert_eq!((r.status, r.text()), (200, "Hello, wasm!".to_owned()));
    s.wait_log("the WASI 0.3 instance failed");
    drop(s);
    // A lone component opts in with --wasi 0.3.
    let s = Served::start(&hub, &["--wasi", "0.3", g(HELLO_HTTP3)]);
    let r = s.get("/");
    assert_eq!((r.status, r.text()), (200, "Hello, wasm!".to_owned()));
}

#[test]
fn a_wasi3_body_stream_holds_its_instance_until_it_ends_and_stops_at_its_deadline() {
    let hub = Hub::new();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = Served::start(
        &hub,
        &[
            "--wasi",
            "0.3",
            "--max-instances",
            "1",
            "--request-timeout",
            "3s",
            "--metrics-addr",
            &metrics.to_string(),
            g(MISBEHAVE_HTTP3),
        ],
    );
    // A body that streams forever: its head is out once the first tick arrives.
    let started = Instant::now();
    let mut drip = TcpStream::connect(s.addr).unwrap();
    drip.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    drip.write_all(b"GET /drip HTTP/1.1\r\nhost: drip\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    read_until(&mut drip, &mut raw, b"tick\n");
    // While it streams, its instance holds the one slot and counts as live.
    let r = s.get("/ok");
    assert_eq!(
        r.status,
        503,
        "a streaming 0.3 instance freed its slot: {}",
        r.text()
    );
    let m = request(metrics, "GET", "/metrics", &[]).text();
    assert!(m.contains("wasmhub_live_instances 1"), "{m}");
    // It stops at its deadline (3 s from the request), not twice that.
    raw.extend(read_until_closed(&mut drip));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "streamed for {took:?}");
    let cut = parse(&raw);
    assert_eq!(cut.status, 200);
    assert!(!cut.complete, "the deadline ended the body cleanly");
    // Then the slot is free again.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let r = s.get("/ok");
        if r.status == 200 || Instant::now() > until {
            assert_eq!((r.status, r.text()), (200, "ok".to_owned()));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    s.wait_log("kind=\"deadline\"");
}

#[test]
fn wasi3_failures_name_their_budget_and_keep_internals_in_the_log() {
    let hub = Hub::new();
    let path = manifest(
        &hub,
        &format!(
            "[app]\nname = \"bad\"\n\n[component.bad]\nsource = {}\nroute = \"/...\"\nwasi = \"0.3\"\n\n[component.bad.budget]\nfuel = 5000000\n",
            toml_path(g(MISBEHAVE_HTTP3))
        ),
    );
    let s = Served::start(&hub, &[&path]);
    let r = s.get("/spin");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.header("x-wasmhub-budget"), Some("fuel"), "{}", r.text());
    assert!(
        r.text()
            .contains("ran out of fuel: it used all 5,000,000 units"),
        "{}",
        r.text()
    );
    let id = r.header("x-request-id").unwrap().to_owned();
    let log = s.wait_log(&format!(
        "request_id={id} component=bad route=/... kind=\"fuel\""
    ));
    assert!(
        log.contains(&format!(
            "request_id={id} component=bad route=/... kind=\"fuel\""
        )),
        "{log}"
    );
    let access = s.wait_log("fuel=5000000");
    assert!(
        access.contains("fuel=5000000"),
        "usage on the access line: {access}"
    );
    // A trap: the client learns that the component failed, the log learns why.
    let r = s.get("/trap");
    assert_eq!(r.status, 500, "{}", r.text());
    let id = r.header("x-request-id").unwrap().to_owned();
    assert_eq!(
        r.text(),
        format!("the component failed (component \"bad\", request id {id})\n")
    );
    assert_eq!(r.header("x-wasmhub-budget"), None);
    let log = s.wait_log(&format!(
        "request_id={id} component=bad route=/... kind=\"trap\""
    ));
    let line = log
        .lines()
        .find(|l| l.contains(&id) && l.contains("guest failed"))
        .unwrap_or_else(|| panic!("no failure line for {id}: {log}"));
    assert!(
        line.contains("wasm backtrace") && line.contains("misbehave_http3"),
        "{line}"
    );
}
