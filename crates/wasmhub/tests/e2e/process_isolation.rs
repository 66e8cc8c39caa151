//! `isolation = "process"`: tenants in worker processes; a worker's crash stays with its
//! tenant; `check` shows each component's isolation and tenant.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use test_programs_artifacts::{ECHO_HTTP, FETCH_HTTP, HELLO_HTTP, MISBEHAVE_HTTP};

use super::harness::{Hub, assert_fails_with, g};
use super::server::{Served, manifest, request, toml_path};

/// Two tenants in worker processes: `bad` (misbehave) and `echo`.
fn two_tenants(hub: &Hub) -> String {
    manifest(
        hub,
        &format!(
            r#"[app]
name = "tenants"
isolation = "process"

[component.bad]
source = {bad}
route = "/bad/..."

[component.echo]
source = {echo}
route = "/echo/..."
tenant = "others"

[component.hello]
source = {hello}
route = "/hello"
tenant = "others"
"#,
            bad = toml_path(g(MISBEHAVE_HTTP)),
            echo = toml_path(g(ECHO_HTTP)),
            hello = toml_path(g(HELLO_HTTP)),
        ),
    )
}

#[test]
fn check_shows_each_components_isolation_and_tenant() {
    let hub = Hub::new();
    let app = two_tenants(&hub);
    let r = hub.run(&["check", &app]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("  isolation: process, tenant \"bad\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("  isolation: process, tenant \"others\""),
        "{}",
        r.stdout
    );
    let r = hub.run(&["check", "--isolation", "in-process", &app]);
    assert!(
        r.stdout
            .contains("  isolation: in-process, tenant \"others\""),
        "{}",
        r.stdout
    );
    let lone = hub.run(&["check", g(HELLO_HTTP)]);
    assert!(
        lone.stdout
            .contains("  isolation: in-process, tenant \"hello-http\""),
        "{}",
        lone.stdout
    );
}

#[test]
fn what_workers_cannot_do_yet_is_refused_by_name() {
    let hub = Hub::new();
    let app = manifest(
        &hub,
        &format!(
            "[app]\nname = \"a\"\n\n[component.fetch]\nsource = {}\nroute = \"/...\"\n\
             isolation = \"process\"\n[component.fetch.grant]\noutbound = [\"http://127.0.0.1:1\"]\n\
             sockets = {{ connect = [\"tcp://db.internal:5432\"] }}\n",
            toml_path(g(FETCH_HTTP))
        ),
    );
    let r = hub.run(&["check", &app]);
    assert_fails_with(
        &r,
        "component \"fetch\" is granted sockets by host name (a rule like tcp://NAME:PORT needs \
         name lookups, which a worker cannot make: grant the host's addresses instead), which \
         isolation = \"process\" does not support yet",
    );
    assert_fails_with(&r, "isolation = \"in-process\"");
    let typo = manifest(
        &hub,
        &format!(
            "[app]\nname = \"a\"\nisolation = \"vm\"\n\n[component.h]\nsource = {}\n",
            toml_path(g(HELLO_HTTP))
        ),
    );
    let r = hub.run(&["check", &typo]);
    assert_fails_with(&r, "wasmhub.toml:3: unknown isolation `vm`");
}

/// The children of process `pid`.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Sends SIGKILL to process `pid`.
fn kill9(pid: u32) {
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -9 {pid}");
}

/// The pid of the server's worker for `tenant` (a child of its keeper, the server's child).
fn worker_of(served: &Served, tenant: &str) -> u32 {
    let until = Instant::now() + Duration::from_secs(30);
    let needle = format!("__worker\0--tenant\0{tenant}\0");
    loop {
        let keepers = children(served.child.id());
        for pid in keepers
            .iter()
            .flat_map(|&k| children(k))
            .chain(keepers.clone())
        {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) {
                return pid;
            }
        }
        assert!(Instant::now() < until, "no worker for tenant {tenant}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until process `pid` has ended and been reaped.
fn gone(pid: u32) {
    let until = Instant::now() + Duration::from_secs(30);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < until, "worker {pid} is still there");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_servers_metrics_keep_what_recycled_and_killed_workers_counted() {
    let hub = Hub::new();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let served = Served::start(
        &hub,
        &[
            "--isolation",
            "process",
            "--recycle-after",
            "3",
            "--metrics-addr",
            &metrics.to_string(),
            g(MISBEHAVE_HTTP),
        ],
    );
    let scrape = || request(metrics, "GET", "/metrics", b"").text();
    let first = worker_of(&served, "misbehave-http");
    for _ in 0..3 {
        assert_eq!(served.get("/trap").status, 500);
    }
    served.wait_log("recycling the worker after 3 requests");
    // Never scraped while it ran: its counts came with its last report.
    gone(first);
    let m = scrape();
    assert!(
        m.contains("wasmhub_guest_failures_total{kind=\"trap\"} 3\n"),
        "{m}"
    );
    // The next worker, killed with a request in flight: its live instance is gone with it,
    // what it reported stays, and the server counts the request its worker failed.
    assert_eq!(served.get("/trap").status, 500);
    let addr = served.addr;
    let looping = std::thread::spawn(move || request(addr, "GET", "/loop", b""));
    std::thread::sleep(Duration::from_secs(1));
    let m = scrape();
    assert!(
        m.contains("wasmhub_guest_failures_total{kind=\"trap\"} 4\n"),
        "{m}"
    );
    assert!(m.contains("wasmhub_live_instances 1\n"), "{m}");
    let victim = worker_of(&served, "misbehave-http");
    assert_ne!(victim, first);
    kill9(victim);
    assert_eq!(looping.join().unwrap().status, 502);
    served.wait_log("killed by signal 9 (SIGKILL)");
    let m = scrape();
    for line in [
        "wasmhub_guest_failures_total{kind=\"trap\"} 4\n",
        "wasmhub_guest_failures_total{kind=\"worker\"} 1\n",
        "wasmhub_live_instances 0\n",
        "wasmhub_requests_total{class=\"5xx\"} 5\n",
    ] {
        assert!(m.contains(line), "{line} in {m}");
    }
}

#[test]
fn a_killed_worker_fails_only_its_own_requests_and_comes_back() {
    let hub = Hub::new();
    let app = two_tenants(&hub);
    let served = Served::start(&hub, &[&app]);
    assert_eq!(served.get("/bad/ok").status, 200);
    // Load on the other tenant's routes for the whole test: every answer must be 200.
    let stop = Arc::new(AtomicBool::new(false));
    let addr = served.addr;
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                statuses.push(request(addr, "POST", "/echo/x", b"still here").status);
                statuses.push(request(addr, "GET", "/hello", b"").status);
            }
            statuses
        })
    };
    // A request that loops until its deadline is in flight in `bad`'s worker when it dies.
    let looping = std::thread::spawn(move || request(addr, "GET", "/bad/loop", b""));
    std::thread::sleep(Duration::from_secs(1));
    let victim = worker_of(&served, "bad");
    kill9(victim);
    let lost = looping.join().unwrap();
    assert_eq!(lost.status, 502, "{}", lost.text());
    let id = lost
        .header("x-request-id")
        .expect("a request id")
        .to_owned();
    assert!(lost.text().contains(&id), "{}", lost.text());
    served.wait_log("killed by signal 9 (SIGKILL)");
    // The tenant comes back.
    let until = Instant::now() + Duration::from_secs(30);
    while served.get("/bad/ok").status != 200 {
        assert!(
            Instant::now() < until,
            "tenant bad did not recover: {}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    gone(victim);
    stop.store(true, Ordering::Relaxed);
    let statuses = load.join().unwrap();
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|&s| s == 200),
        "the other tenant saw {:?}",
        statuses.iter().filter(|&&s| s != 200).collect::<Vec<_>>()
    );
}

#[test]
fn a_worker_is_recycled_after_n_requests_without_failing_one() {
    let hub = Hub::new();
    let served = Served::start(
        &hub,
        &[
            "--isolation",
            "process",
            "--recycle-after",
            "3",
            g(HELLO_HTTP),
        ],
    );
    let first = worker_of(&served, "hello-http");
    for _ in 0..7 {
        let r = served.get("/");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    served.wait_log("recycling the worker after 3 requests");
    gone(first);
    assert_eq!(served.get("/").status, 200);
}

#[test]
fn a_worker_is_locked_down_as_seen_from_outside() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: process isolation needs root");
        return;
    }
    let hub = Hub::new();
    let served = Served::start(&hub, &["--isolation", "process", g(HELLO_HTTP)]);
    assert_eq!(served.get("/").status, 200);
    let worker = worker_of(&served, "hello-http");
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(field("Seccomp:"), ["2"], "{status}");
    assert_eq!(field("NoNewPrivs:"), ["1"], "{status}");
    let uids = field("Uid:");
    assert!(
        uids.len() == 4 && uids.iter().all(|u| u != "0" && u == &uids[0]),
        "{status}"
    );
    assert!(field("CapEff:").iter().all(|c| c.chars().all(|d| d == '0')));
    // Its own user, pid, net and mount namespaces; an empty root; no file of the server's.
    let ns = |pid: &str, kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap();
    for kind in ["user", "pid", "net", "mnt"] {
        assert_ne!(ns(&worker.to_string(), kind), ns("self", kind), "{kind}");
    }
    let root = std::fs::read_dir(format!("/proc/{worker}/root")).unwrap();
    assert_eq!(root.count(), 0, "the worker's root is not empty");
    // It still serves.
    assert_eq!(served.get("/").status, 200);
}

#[test]
fn a_worker_serves_its_granted_files_and_nothing_else() {
    super::caps_files::served_files_are_confined(Some("process"));
}

/// A worker started after the files on disk changed (the manifest broken, the component
/// file rewritten with another component), with no reload, serves its generation's app:
/// the manifest and code its server prepared, never what the disk holds now.
#[test]
fn a_worker_started_after_the_files_changed_serves_its_generations_app() {
    let hub = Hub::new();
    let wasm = hub.tmp.path().join("app.wasm");
    std::fs::copy(g(HELLO_HTTP), &wasm).unwrap();
    let app = manifest(
        &hub,
        &format!(
            "[app]\nname = \"snap\"\n\n[component.hello]\nsource = {}\nroute = \"/...\"\n",
            toml_path(wasm.to_str().unwrap())
        ),
    );
    let served = Served::start(
        &hub,
        &["--isolation", "process", "--recycle-after", "2", &app],
    );
    let hello = || {
        let r = request(served.addr, "POST", "/", b"an echo would say this");
        assert_eq!(r.status, 200, "{}\n{}", r.text(), served.log());
        assert_eq!(r.text(), "Hello, wasm!", "{}", served.log());
    };
    hello();
    let first = worker_of(&served, "hello");
    std::fs::write(&app, "[app]\nname = ").unwrap();
    std::fs::write(&wasm, std::fs::read(g(ECHO_HTTP)).unwrap()).unwrap();
    // Recycled after 2 requests: the next workers start with the disk changed.
    for _ in 0..5 {
        hello();
    }
    served.wait_log("recycling the worker after 2 requests");
    gone(first);
    // Killed: its respawn starts with the disk changed too.
    let victim = worker_of(&served, "hello");
    kill9(victim);
    served.wait_log("killed by signal 9 (SIGKILL)");
    hello();
    assert_ne!(worker_of(&served, "hello"), victim);
    assert!(!served.log().contains("cannot prepare"), "{}", served.log());
}
