//! One app on three hosts behind haproxy, on a 3-node NATS cluster: `deploy` of a new
//! revision under steady load drops nothing, every host converges on it, answers switch
//! from v1 to v2 and never back; code that does not match its sha256 is refused by every
//! host, which keeps serving the last good revision; `cluster status` shows it all.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use test_programs_artifacts::{HELLO_HTTP, VERSION_HTTP};

use super::cluster_fleet::{
    Haproxy, HostOnHub, HostProc, Load, ProxyOnHub, assert_none_failed, deploy, get, status,
    wait_status,
};
use super::cluster_kv::nats;
use super::harness::{Hub, g};
use super::kv::write_manifest;
use super::server::toml_path;

/// App `fleet` answering `version` on every path.
pub fn version_app(hub: &Hub, version: &str) -> String {
    let text = format!(
        "[app]\nname = \"fleet\"\n\n[component.web]\nsource = {}\nroute = \"/...\"\n\n\
         [component.web.grant]\nenv = [\"VERSION={version}\"]\n",
        toml_path(g(VERSION_HTTP))
    );
    write_manifest(hub, &format!("fleet-{version}"), &text)
}

/// Deploys revision 1 (`v1`), starts three hosts and haproxy in front.
pub fn fleet(hub: &Hub, url: &str) -> (Vec<HostProc>, Haproxy) {
    let v1 = version_app(hub, "v1");
    let ran = deploy(hub, url, &v1, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.contains("deployed app \"fleet\" revision 1"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("(uploaded)"), "{}", ran.stdout);
    let hosts: Vec<HostProc> = (0..3)
        .map(|i| HostProc::start(hub, url, "fleet", &format!("h{i}")))
        .collect();
    let proxy = Haproxy::start(hub, &hosts.iter().collect::<Vec<_>>());
    (hosts, proxy)
}

#[test]
fn a_deploy_under_load_reaches_every_host_without_a_failed_request() {
    let cluster = nats();
    let url = cluster.url();
    let hub = Hub::new();
    let (hosts, proxy) = fleet(&hub, &url);
    assert_eq!(get(proxy.addr, "/").unwrap().body, "v1");
    let load = Load::start(proxy.addr, 4);
    std::thread::sleep(Duration::from_secs(1));
    let v2 = version_app(&hub, "v2");
    let started = Instant::now();
    let ran = deploy(&hub, &url, &v2, &["--wait", "--wait-timeout", "60s"]);
    let converged = Instant::now();
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("revision 2"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("(already in the cluster)"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("3 of 3 hosts serve revision 2"),
        "{}",
        ran.stdout
    );
    eprintln!(
        "every host on revision 2 {:?} after the deploy started",
        converged - started
    );
    std::thread::sleep(Duration::from_millis(1500));
    let answers = load.stop();
    let total = assert_none_failed(&answers);
    assert!(total > 20, "the load ran: {total} requests");
    // After --wait returned, only v2; per host, no v1 for a request sent after that host
    // answered v2 (a request racing the switch may land on either side).
    let mut first_v2: BTreeMap<String, Instant> = BTreeMap::new();
    for (_, done, r) in answers.iter().flatten() {
        let a = r.as_ref().unwrap();
        assert!(a.body == "v1" || a.body == "v2", "{a:?}");
        if a.body == "v2" {
            let server = a.server.clone().unwrap_or_default();
            let e = first_v2.entry(server).or_insert(*done);
            *e = (*e).min(*done);
        }
    }
    for (sent, _, r) in answers.iter().flatten() {
        let a = r.as_ref().unwrap();
        if *sent > converged {
            assert_eq!(a.body, "v2", "asked after every host served revision 2");
        }
        let server = a.server.clone().unwrap_or_default();
        if let Some(v2_at) = first_v2.get(&server) {
            assert!(
                a.body == "v2" || *sent < *v2_at,
                "host {server} answered v1 to a request sent after it answered v2"
            );
        }
    }
    assert_eq!(first_v2.len(), 3, "every host served v2: {first_v2:?}");
    let s = status(&hub, &url);
    let listed = s["hosts"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{s:#}");
    for h in listed {
        assert_eq!(h["revision"], 2, "{s:#}");
        assert_eq!(h["health"], "ready", "{s:#}");
    }
    assert_eq!(s["apps"][0]["revision"], 2, "{s:#}");
    drop(hosts);
}

#[test]
fn code_that_does_not_match_its_sha256_is_refused_by_every_host() {
    let cluster = nats();
    let url = cluster.url();
    let hub = Hub::new();
    let (hosts, proxy) = fleet(&hub, &url);
    // The blob of the next revision's code is put in the store, then replaced.
    let bytes = std::fs::read(g(HELLO_HTTP)).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(wasmhub_cluster::testing::replace_object(
            &cluster.node_url(0),
            "wasmhub_blobs",
            &sha,
            b"not the deployed code",
        ))
        .unwrap();
    let text = format!(
        "[app]\nname = \"fleet\"\n\n[component.web]\nsource = {}\nroute = \"/...\"\n",
        toml_path(g(HELLO_HTTP))
    );
    let manifest = write_manifest(&hub, "fleet-hello", &text);
    let ran = deploy(&hub, &url, &manifest, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.contains("revision 2"), "{}", ran.stdout);
    let s = wait_status(
        &hub,
        &url,
        Duration::from_secs(60),
        "every host refuses",
        |hs| {
            hs.len() == 3
                && hs
                    .iter()
                    .all(|h| h["error"].as_str().is_some_and(|e| e.contains("refused")))
        },
    );
    for h in s["hosts"].as_array().unwrap() {
        let e = h["error"].as_str().unwrap();
        assert!(e.contains("component \"web\""), "{e}");
        assert!(e.contains(&sha), "names the blob: {e}");
        assert_eq!(h["revision"], 1, "the last good revision serves: {s:#}");
        assert_eq!(h["health"], "failing", "{s:#}");
    }
    // Still serving revision 1 through the load balancer.
    for _ in 0..10 {
        assert_eq!(get(proxy.addr, "/").unwrap().body, "v1");
    }
    for h in &hosts {
        assert!(h.log().contains("refused"), "{}", h.log());
    }
}

#[test]
fn hosts_share_the_apps_stores_on_nats() {
    let cluster = nats();
    let url = cluster.url();
    let hub = Hub::new();
    let manifest = super::kv::one_store_app(&hub, "kvfleet", r#""default""#);
    let ran = deploy(&hub, &url, &manifest, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let a = HostProc::start(&hub, &url, "kvfleet", "k0");
    let b = HostProc::start(&hub, &url, "kvfleet", "k1");
    let incr = super::kv::at("/kv", "incr", "default", "hits");
    for i in 1..=6 {
        let host = if i % 2 == 0 { &a } else { &b };
        let answer = get(host.addr, &incr).unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.body, i.to_string(), "one counter for both hosts");
    }
}
