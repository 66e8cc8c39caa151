//! Losing parts of a cluster under load: a host stopped with SIGTERM (it turns unready,
//! haproxy stops sending it requests, then it drains) and every NATS node at once (hosts
//! keep serving their revision, then rejoin and take the next deploy).

use std::time::{Duration, Instant};

use super::cluster_deploy::{fleet, version_app};
use super::cluster_fleet::{Load, assert_none_failed, deploy, get, wait_status};
use super::cluster_kv::nats;
use super::harness::Hub;

#[test]
fn sigterm_of_a_host_under_load_fails_no_request() {
    let cluster = nats();
    let url = cluster.url();
    let hub = Hub::new();
    let (mut hosts, proxy) = fleet(&hub, &url);
    let health = get(hosts[1].admin, "/-/health").unwrap();
    assert_eq!((health.status, health.body.as_str()), (200, "ready\n"));
    let load = Load::start(proxy.addr, 4);
    std::thread::sleep(Duration::from_secs(1));
    hosts[1].sigterm();
    // Unready (and still answering) for --drain-grace 2s, then gone.
    let until = Instant::now() + Duration::from_secs(60);
    let mut unready = None;
    while hosts[1].child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < until, "host h1 did not stop after SIGTERM");
        if let Ok(a) = get(hosts[1].admin, "/-/health")
            && a.status == 503
        {
            unready = Some(a.body);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(unready.as_deref(), Some("not ready: draining\n"));
    std::thread::sleep(Duration::from_secs(1));
    let answers = load.stop();
    assert_none_failed(&answers);
    assert!(hosts[1].log().contains("draining"), "{}", hosts[1].log());
    wait_status(&hub, &url, Duration::from_secs(30), "h1 leaves", |hs| {
        hs.len() == 2 && hs.iter().all(|h| h["id"] != "h1")
    });
    hosts.remove(1);
}

#[test]
fn with_every_nats_node_down_hosts_keep_serving_then_rejoin() {
    let mut cluster = nats();
    let url = cluster.url();
    let hub = Hub::new();
    let (_hosts, proxy) = fleet(&hub, &url);
    let load = Load::start(proxy.addr, 2);
    for i in 0..3 {
        cluster.kill(i);
    }
    std::thread::sleep(Duration::from_secs(10));
    let answers = load.stop();
    let total = assert_none_failed(&answers);
    assert!(total > 10, "the load ran: {total}");
    for i in 0..3 {
        cluster.restart(i).unwrap();
    }
    // Deploys fail until the cluster has elected leaders again: retried for a while.
    let v2 = version_app(&hub, "v2");
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let ran = deploy(&hub, &url, &v2, &["--wait", "--wait-timeout", "60s"]);
        if ran.code == 0 {
            // A try whose write NATS applied but did not acknowledge leaves revision 3.
            assert!(
                ran.stdout.contains("3 of 3 hosts serve revision"),
                "{}",
                ran.stdout
            );
            break;
        }
        assert!(
            Instant::now() < until,
            "no deploy after NATS came back: {}",
            ran.stderr
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(get(proxy.addr, "/").unwrap().body, "v2");
}

#[test]
fn a_killed_host_leaves_cluster_status_within_seconds() {
    let cluster = nats();
    let url = cluster.url();
    let hub = Hub::new();
    let (mut hosts, _proxy) = fleet(&hub, &url);
    wait_status(&hub, &url, Duration::from_secs(30), "3 hosts", |hs| {
        hs.len() == 3
    });
    let _ = hosts[2].child.kill();
    let _ = hosts[2].child.wait();
    let killed = Instant::now();
    // Reports live 5 s; the bound is generous for a loaded machine.
    wait_status(&hub, &url, Duration::from_secs(30), "h2 leaves", |hs| {
        hs.len() == 2 && hs.iter().all(|h| h["id"] != "h2")
    });
    eprintln!(
        "a killed host left cluster status after {:?}",
        killed.elapsed()
    );
    hosts.remove(2);
}
