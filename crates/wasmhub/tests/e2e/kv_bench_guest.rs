//! The `kv-bench` guest that `cargo xtask bench kv` drives through `serve`: each route
//! answers what the benchmark relies on.

use test_programs_artifacts::KV_BENCH;

use super::harness::{Hub, g};
use super::kv::{get, post};
use super::server::Served;

#[test]
fn kv_bench_routes_answer_what_the_benchmark_counts() {
    let hub = Hub::new();
    let args = ["--keyvalue", "default", g(KV_BENCH)];
    let s = Served::start(&hub, &args);
    assert_eq!(post(&s, "/set?key=k", b"a value"), (200, "ok".into()));
    assert_eq!(get(&s, "/get-loop?n=5&key=k"), (200, "5".into()));
    assert_eq!(get(&s, "/get-loop?n=3&key=absent"), (200, "0".into()));
    assert_eq!(get(&s, "/get-loop?n=0&key=k"), (200, "0".into()));
    assert_eq!(get(&s, "/noop-loop?n=7&key=k"), (200, "7".into()));
    assert_eq!(get(&s, "/other").0, 400);

    // The set was durable: a restarted server finds it.
    s.sigterm();
    drop(s);
    let s = Served::start(&hub, &args);
    assert_eq!(get(&s, "/get-loop?n=2&key=k"), (200, "2".into()));
}

#[test]
fn kv_bench_without_the_grant_is_denied() {
    let hub = Hub::new();
    let s = Served::start(&hub, &[g(KV_BENCH)]);
    assert_eq!(post(&s, "/set?key=k", b"v"), (403, "access-denied".into()));
    assert_eq!(
        get(&s, "/get-loop?n=1&key=k"),
        (403, "access-denied".into())
    );
    // The noop loop touches no store, so it answers without one.
    assert_eq!(get(&s, "/noop-loop?n=2"), (200, "2".into()));
}
