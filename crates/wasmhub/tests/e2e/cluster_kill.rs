//! Killing parts of a cluster under load, with no chance to clean up: `kill -9` of a host
//! (only requests in flight on it may fail, each with a definite answer, and none from 2 s
//! after the kill on) and `kill -9` of the NATS node leading the app's key-value bucket
//! (no failed request, no acknowledged increment lost, increments go on).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::cluster_deploy::fleet;
use super::cluster_fleet::{
    Haproxy, HostOnHub, HostProc, Load, ProxyOnHub, Sent, assert_none_failed, deploy, get,
};
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

/// The increments the answers acknowledged (each a counter value), checked distinct.
fn acknowledged(answers: &[Vec<Sent>]) -> BTreeSet<i64> {
    let mut seen = BTreeSet::new();
    for (_, _, r) in answers.iter().flatten() {
        let a = r.as_ref().unwrap();
        let v: i64 = a.body.trim().parse().unwrap_or_else(|_| panic!("{a:?}"));
        assert!(seen.insert(v), "two acknowledged increments both gave {v}");
    }
    seen
}

#[test]
fn kill_9_of_the_leading_nats_node_loses_no_request_and_no_acknowledged_write() {
    let mut cluster = nats();
    let url = cluster.url();
    let hub = Hub::new();
    let manifest = super::kv::one_store_app(&hub, "kvkill", r#""default""#);
    let ran = deploy(&hub, &url, &manifest, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let hosts: Vec<HostProc> = (0..3)
        .map(|i| HostProc::start(&hub, &url, "kvkill", &format!("k{i}")))
        .collect();
    let proxy = Haproxy::start(&hub, &hosts.iter().collect::<Vec<_>>());
    let incr = super::kv::at("/kv", "incr", "default", "hits");
    // Each host opens the bucket before the load.
    for (i, h) in hosts.iter().enumerate() {
        let a = get(h.addr, &incr).unwrap();
        assert_eq!(
            (a.status, a.body.clone()),
            (200, (i + 1).to_string()),
            "{a:?}"
        );
    }
    let load = Load::start_at(proxy.addr, &incr, 4);
    std::thread::sleep(Duration::from_secs(2));
    let stream = format!("KV_{}", wasmhub_cluster::names::bucket("kvkill", "default"));
    let leader = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(cluster.leader_of(&stream))
        .expect("the bucket's stream has a leader");
    let killed = Instant::now();
    cluster.kill(leader);
    std::thread::sleep(Duration::from_secs(8));
    // Writes resume once the bucket has a new leader: a few seconds, longer on a loaded
    // machine. Wait for one, then let the load go on a while (counted below).
    let resumed = get(proxy.addr, &incr).unwrap();
    assert_eq!(resumed.status, 200, "{resumed:?}");
    std::thread::sleep(Duration::from_secs(3));
    let answers = load.stop();
    assert_none_failed(&answers);
    let acked = acknowledged(&answers);
    let after: usize = answers
        .iter()
        .flatten()
        .filter(|(at, _, _)| *at > killed + Duration::from_secs(1))
        .count();
    assert!(after > 10, "increments went on after the kill: {after}");
    // One more increment: the counter then is every earlier one plus this.
    let last = get(proxy.addr, &incr).unwrap();
    assert_eq!(last.status, 200, "{last:?}");
    let counter: i64 = last.body.trim().parse::<i64>().unwrap() - 1;
    let n = i64::try_from(acked.len()).unwrap() + 3;
    assert!(
        counter >= n,
        "counter {counter}: every one of the {n} acknowledged increments is in it"
    );
    assert!(
        acked.iter().all(|v| *v <= counter),
        "no acknowledged value is past the counter {counter}"
    );
    eprintln!(
        "kill -9 of NATS node n{leader}: {n} increments acknowledged, counter {counter}, {after} after the kill"
    );
}
