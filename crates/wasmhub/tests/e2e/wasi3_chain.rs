//! WASI 0.3 service chaining in process: a `wasi:http` 0.3 handler calls `middle`, which
//! calls `end`, through runtime links; calls in flight at once run at once; budgets hold for
//! every component of the chain, also while it waits.

use std::time::{Duration, Instant};

use test_programs_artifacts::{CART, CHAIN_HTTP3, HELLO_HTTP3, HOP_END, HOP_MIDDLE, PRICING};

use super::harness::{Hub, assert_fails_with, g};
use super::server::{Served, manifest, toml_path};

/// `front` (routed at `/chain/...`) -> `middle` -> `end`, all 0.3; `extra` is appended.
fn chain(hub: &Hub, extra: &str) -> String {
    manifest(
        hub,
        &format!(
            "[app]\nname = \"chain\"\n\n\
             [component.front]\nsource = {}\nroute = \"/chain/...\"\nwasi = \"0.3\"\n\n\
             [component.front.link]\n\"wasmhub:chain/hop\" = \"middle\"\n\n\
             [component.middle]\nsource = {}\nwasi = \"0.3\"\n\n\
             [component.middle.link]\n\"wasmhub:chain/hop\" = \"end\"\n\n\
             [component.end]\nsource = {}\nwasi = \"0.3\"\n{extra}",
            toml_path(g(CHAIN_HTTP3)),
            toml_path(g(HOP_MIDDLE)),
            toml_path(g(HOP_END)),
        ),
    )
}

/// The milliseconds the guest reported for its two concurrent calls (`... both in N ms`).
fn reported_ms(body: &str) -> u64 {
    body.trim()
        .rsplit_once("both in ")
        .and_then(|(_, t)| t.strip_suffix(" ms"))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no time in {body:?}"))
}

#[test]
fn a_wasi3_handler_calls_a_chain_of_linked_services_concurrently() {
    let hub = Hub::new();
    let path = chain(&hub, "");
    let r = hub.run(&["check", &path]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("linked                   wasmhub:chain/hop@0.1.0 -> component \"end\""),
        "{}",
        r.stdout
    );
    let s = Served::start(&hub, &["--request-timeout", "5s", &path]);
    let r = s.get("/chain/call?n=3");
    assert_eq!((r.status, r.text()), (200, "middle(end(front))".to_owned()));
    // Two 1 s calls awaited at once take about 1 s, not 2: each goes front -> middle -> end,
    // and `end` runs both on its event loop at the same time. The calls are long so that a
    // loaded CI machine's delays stay far from the 1 s a sequential run would add.
    for _ in 0..2 {
        let started = Instant::now();
        let r = s.get("/chain/pair?ms=1000");
        let took = started.elapsed();
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            r.text()
                .starts_with("a after 1000 ms; b after 1000 ms; both in "),
            "{}",
            r.text()
        );
        let ms = reported_ms(&r.text());
        assert!((1000..1700).contains(&ms), "{}", r.text());
        assert!(took < Duration::from_millis(1800), "{took:?}");
    }
}

#[test]
fn invoke_calls_through_wasi3_links() {
    let hub = Hub::new();
    let path = chain(&hub, "");
    let invoke = |call: &str| {
        let r = hub.run(&["invoke", &path, "--component", "middle", call]);
        assert_eq!(r.code, 0, "{call}: {}", r.stderr);
        r.stdout.trim().to_owned()
    };
    assert_eq!(invoke(r#"call("x")"#), r#""middle(end(x))""#);
    assert_eq!(invoke(r#"slow(50, "z")"#), r#""z after 50 ms""#);
}

#[test]
fn budgets_hold_for_every_component_of_a_chain_across_awaits() {
    let hub = Hub::new();
    // `end`'s own deadline stops it while it waits, and the error names it.
    let path = chain(&hub, "\n[component.end.budget]\ndeadline = \"100ms\"\n");
    let started = Instant::now();
    let r = hub.run(&[
        "invoke",
        &path,
        "--component",
        "middle",
        r#"slow(60000, "z")"#,
    ]);
    assert_fails_with(&r, "component \"end\" exceeded its deadline of 100 ms");
    // Stopped by the 100 ms deadline, not by the 60 s wait (bound generous for a loaded CI).
    assert!(started.elapsed() < Duration::from_secs(30));
    // Served: the handler that called it gets the error, the client a 500 naming `end`.
    let s = Served::start(&hub, &["--request-timeout", "5s", &path]);
    let r = s.get("/chain/pair?ms=3000");
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(
        r.text()
            .contains("component \"end\" exceeded its deadline of 100 ms"),
        "{}",
        r.text()
    );
    let r = s.get("/chain/call");
    assert_eq!((r.status, r.text()), (200, "middle(end(front))".to_owned()));
    drop(s);
    // The front's request deadline covers the time it spends awaiting the chain: a 504.
    let path = chain(&hub, "");
    let s = Served::start(&hub, &["--request-timeout", "300ms", &path]);
    let started = Instant::now();
    let r = s.get("/chain/pair?ms=3000");
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(started.elapsed() < Duration::from_secs(2));
    let r = s.get("/chain/call");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn wasi2_links_keep_working_beside_a_wasi3_component() {
    let hub = Hub::new();
    // A 0.3 component turns on the engine's async support for the whole app; the 0.2 link
    // from `cart` to `pricing` (resources included) works as before.
    let path = manifest(
        &hub,
        &format!(
            "[app]\nname = \"mixed\"\n\n\
             [component.cart]\nsource = {}\nroute = \"/cart/...\"\n\n\
             [component.cart.link]\n\"acme:pricing/calc\" = \"pricing\"\n\n\
             [component.pricing]\nsource = {}\n\n\
             [component.fast]\nsource = {}\nroute = \"/fast/...\"\nwasi = \"0.3\"\n",
            toml_path(g(CART)),
            toml_path(g(PRICING)),
            toml_path(g(HELLO_HTTP3)),
        ),
    );
    let s = Served::start(&hub, &[&path]);
    for _ in 0..2 {
        let r = s.get("/cart/checkout?apple=2&pear=1");
        assert_eq!((r.status, r.text()), (200, "105".to_owned()));
        let r = s.get("/fast/hello");
        assert_eq!((r.status, r.text()), (200, "Hello, wasm!".to_owned()));
    }
}
