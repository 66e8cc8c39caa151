//! Killing parts of a cluster under load, with no chance to clean up: `kill -9` of a host
//! (only requests in flight on it may fail, each with a definite answer, and none from 2 s
//! after the kill on).

use std::time::{Duration, Instant};

use super::cluster_deploy::fleet;
use super::cluster_fleet::{Load, Sent};
use super::cluster_kv::nats;
use super::harness::Hub;

/// The client's own deadline for one request (the read timeout of [`get`]).
const DEADLINE: Duration = Duration::from_secs(10);

/// Whether a failed request ended with a definite answer (an error status, a refused or
/// reset connection) rather than the client giving up at its deadline.
fn definite(sent: &Sent) -> bool {
    let (at, done, r) = sent;
    let timed_out = match r {
        Ok(_) => false,
        Err(e) => e.contains("timed out") || e.contains("temporarily unavailable"),
    };
    !timed_out && *done - *at < DEADLINE
}

#[test]
fn kill_9_of_a_host_under_load_fails_only_its_requests_in_flight() {
    let cluster = nats();
    let url = cluster.url();
    let hub = Hub::new();
    let (mut hosts, proxy) = fleet(&hub, &url);
    let load = Load::start(proxy.addr, 4);
    std::thread::sleep(Duration::from_secs(2));
    let killed = Instant::now();
    hosts[1].child.kill().unwrap();
    hosts[1].child.wait().unwrap();
    // Every request sent from here on finds the host gone.
    let gone = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    let answers = load.stop();
    let all: Vec<&Sent> = answers.iter().flatten().collect();
    let failed: Vec<&&Sent> = all
        .iter()
        .filter(|(_, _, r)| !matches!(r, Ok(a) if a.status == 200))
        .collect();
    eprintln!(
        "kill -9 of a host: {} of {} requests failed",
        failed.len(),
        all.len()
    );
    for f in &failed {
        assert!(definite(f), "a failure hung to its deadline: {f:?}");
        assert!(
            f.0 < gone && f.1 > killed,
            "only requests in flight when the host died fail: {f:?}"
        );
    }
    let late: Vec<&&Sent> = all
        .iter()
        .filter(|(at, _, _)| *at > killed + Duration::from_secs(2))
        .collect();
    assert!(
        late.len() > 10,
        "the load ran after the kill: {}",
        late.len()
    );
    for s in &late {
        assert!(
            matches!(&s.2, Ok(a) if a.status == 200 && a.server.as_deref() != Some("h1")),
            "a request sent 2 s after the kill went to a live host: {s:?}"
        );
    }
    hosts.remove(1);
}
