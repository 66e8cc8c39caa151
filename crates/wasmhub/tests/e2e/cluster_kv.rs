//! `--kv nats --cluster URL`: the app's stores on a NATS JetStream cluster, shared by every
//! server started on it; clear errors without `--cluster` or without a reachable server.

use std::net::TcpListener;
use std::time::Duration;

use wasmhub_cluster::testing::NatsCluster;

use super::harness::Hub;
use super::kv::{at, get, one_store_app, run_bounded};
use super::server::Served;

/// Starts a 3-node NATS cluster (every node killed when it is dropped).
pub fn nats() -> NatsCluster {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(NatsCluster::start())
        .expect("the NATS test cluster starts (run `cargo xtask setup` to install nats-server)")
}

#[test]
fn two_servers_on_one_nats_cluster_share_a_counter() {
    let cluster = nats();
    let hub = Hub::new();
    let app = one_store_app(&hub, "shared-counter", r#""default""#);
    let url = cluster.url();
    let a = Served::start(&hub, &["--kv", "nats", "--cluster", &url, &app]);
    let b = Served::start(&hub, &["--cluster", &url, &app]);
    let incr = at("/kv", "incr", "default", "hits");
    for i in 1..=10 {
        let server = if i % 2 == 0 { &a } else { &b };
        let (status, body) = get(server, &incr);
        assert_eq!(status, 200, "increment {i}: {body}");
        assert_eq!(
            body,
            i.to_string(),
            "both servers count on one shared counter"
        );
    }
}

#[test]
fn kv_nats_without_cluster_says_to_add_it() {
    let hub = Hub::new();
    let app = one_store_app(&hub, "no-cluster", r#""default""#);
    let ran = hub.run(&["serve", "--kv", "nats", &app]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("--kv nats needs --cluster nats://HOST:PORT"),
        "{}",
        ran.stderr
    );
}

#[test]
fn an_unreachable_nats_server_is_named() {
    let hub = Hub::new();
    let app = one_store_app(&hub, "unreachable", r#""default""#);
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let ran = run_bounded(
        &hub,
        &["serve", "--addr", "127.0.0.1:0", "--cluster", &url, &app],
        Duration::from_secs(120),
    )
    .expect("serve gives up on an unreachable server");
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("cannot reach NATS server {url}")),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("unreachable"), "{}", ran.stderr);
}

#[test]
fn the_kv_verb_reads_and_writes_the_stores_on_nats() {
    let cluster = nats();
    let hub = Hub::new();
    let app = one_store_app(&hub, "kv-verb", r#""default""#);
    let url = cluster.url();
    let served = Served::start(&hub, &["--kv", "nats", "--cluster", &url, &app]);
    let kv = |args: &[&str]| {
        let mut all = vec!["kv", "--app", "kv-verb"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--kv", "nats", "--cluster", &url]);
        run_bounded(&hub, &all, Duration::from_secs(120)).expect("kv ends")
    };
    // Written from the command line while the server runs, read by the guest.
    let ran = kv(&["set", "greeting", "hello from the cli"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let (status, body) = get(&served, &at("/kv", "get", "default", "greeting"));
    assert_eq!((status, body.as_str()), (200, "hello from the cli"));
    // Written by the guest, read from the command line.
    let (status, _) = super::kv::post(&served, &at("/kv", "set", "default", "from-guest"), b"42");
    assert_eq!(status, 200);
    let ran = kv(&["get", "from-guest"]);
    assert_eq!((ran.code, ran.stdout.as_str()), (0, "42"), "{}", ran.stderr);
    let ran = kv(&["list"]);
    assert_eq!(ran.stdout, "from-guest\ngreeting\n", "{}", ran.stderr);
    // The embedded store of the same app knows nothing of it.
    let ran = hub.run(&["kv", "--app", "kv-verb", "get", "greeting"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
}
