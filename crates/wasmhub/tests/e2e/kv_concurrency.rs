//! Atomic increment and compare-and-swap under 32 concurrent requests lose no update: every
//! answer is a distinct value and the final count is the number of requests.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::harness::Hub;
use super::kv::{get, one_store_app};
use super::server::{Served, request};

const CLIENTS: usize = 32;
const EACH: usize = 8;

/// `path` sent `EACH` times by each of `CLIENTS` threads at once: every answer's body as a
/// number, and the `x-attempts` headers summed.
fn hammer(s: &Served, path: &str) -> (Vec<i64>, u64) {
    let addr = s.addr;
    let start = Arc::new(std::sync::Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (start, path) = (start.clone(), path.to_owned());
            std::thread::spawn(move || {
                start.wait();
                (0..EACH)
                    .map(|_| {
                        let r = request(addr, "GET", &path, &[]);
                        assert_eq!(r.status, 200, "{}", r.text());
                        let attempts = r.header("x-attempts").map_or(1, |a| a.parse().unwrap());
                        (r.text().parse::<i64>().unwrap(), attempts)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<(i64, u64)> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let attempts = answers.iter().map(|(_, a)| a).sum();
    (answers.into_iter().map(|(v, _)| v).collect(), attempts)
}

/// Asserts that `values` are exactly 1..=CLIENTS*EACH, each once.
fn no_update_lost(values: Vec<i64>) {
    let total = (CLIENTS * EACH) as i64;
    let distinct: BTreeSet<i64> = values.iter().copied().collect();
    assert_eq!(values.len() as i64, total);
    assert_eq!(
        distinct,
        (1..=total).collect(),
        "an update was lost or doubled"
    );
}

#[test]
fn increment_under_32_concurrent_requests_loses_no_update() {
    let hub = Hub::new();
    let s = Served::start(&hub, &[&one_store_app(&hub, "atomic", r#""default""#)]);
    let (values, _) = hammer(&s, "/kv/incr?key=n");
    no_update_lost(values);
    let last = (CLIENTS * EACH + 1).to_string();
    assert_eq!(get(&s, "/kv/incr?key=n"), (200, last));
}

#[test]
fn compare_and_swap_under_32_concurrent_requests_loses_no_update() {
    let hub = Hub::new();
    let s = Served::start(&hub, &[&one_store_app(&hub, "cas", r#""default""#)]);
    let (values, attempts) = hammer(&s, "/kv/cas-incr?key=n");
    no_update_lost(values);
    println!(
        "{} swaps for {} updates: conflicts were retried",
        attempts,
        CLIENTS * EACH
    );
    // A plain increment of the same key continues the CAS count.
    let last = (CLIENTS * EACH + 1).to_string();
    assert_eq!(get(&s, "/kv/incr?key=n"), (200, last));
}
