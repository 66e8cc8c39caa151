//! Helpers of the cluster tests: `wasmhub host` processes and haproxy in front of them
//! (from `wasmhub_cluster::testing::fleet`, shared with `cargo xtask bench cluster`) started
//! from a [`Hub`], `deploy` and `cluster status`. Every process is killed when its handle drops.

use std::time::{Duration, Instant};

pub use wasmhub_cluster::testing::fleet::{Haproxy, HostProc, Load, Sent, failures, get};

use super::harness::{Hub, Ran};

/// Starting a [`HostProc`] from a [`Hub`].
pub trait HostOnHub: Sized {
    /// Starts host `id` of `app` on `url`; waits (generously) until it serves.
    fn start(hub: &Hub, url: &str, app: &str, id: &str) -> Self {
        Self::start_with(hub, url, app, id, &[])
    }

    /// [`HostOnHub::start`] with `extra` arguments.
    fn start_with(hub: &Hub, url: &str, app: &str, id: &str, extra: &[&str]) -> Self;
}

impl HostOnHub for HostProc {
    fn start_with(hub: &Hub, url: &str, app: &str, id: &str, extra: &[&str]) -> Self {
        let work = hub.tmp.path().join(format!("work-{id}"));
        HostProc::spawn(hub.cmd(), &work, url, app, id, extra)
    }
}

/// Starting [`Haproxy`] from a [`Hub`].
pub trait ProxyOnHub {
    /// Starts haproxy for `hosts`, its config in the hub's scratch folder.
    fn start(hub: &Hub, hosts: &[&HostProc]) -> Self;
}

impl ProxyOnHub for Haproxy {
    fn start(hub: &Hub, hosts: &[&HostProc]) -> Self {
        Haproxy::launch(hub.tmp.path(), hosts, None)
    }
}

/// Asserts every answer was a 200; how many requests there were.
pub fn assert_none_failed(answers: &[Vec<Sent>]) -> usize {
    let failed = failures(answers);
    let total: usize = answers.iter().map(Vec::len).sum();
    assert!(
        failed.is_empty(),
        "{} of {total} failed: {failed:?}",
        failed.len()
    );
    total
}

/// `wasmhub deploy MANIFEST --cluster URL ARGS...`, bounded.
pub fn deploy(hub: &Hub, url: &str, manifest: &str, args: &[&str]) -> Ran {
    let mut all = vec!["deploy", manifest, "--cluster", url];
    all.extend_from_slice(args);
    super::kv::run_bounded(hub, &all, Duration::from_secs(300)).expect("deploy ends")
}

/// `wasmhub cluster status --cluster URL --json`.
pub fn status(hub: &Hub, url: &str) -> serde_json::Value {
    let ran = super::kv::run_bounded(
        hub,
        &["cluster", "status", "--cluster", url, "--json"],
        Duration::from_secs(60),
    )
    .expect("status ends");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {}", ran.stdout))
}

/// Polls `cluster status` until `done` holds for its hosts, up to `within`.
pub fn wait_status(
    hub: &Hub,
    url: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> serde_json::Value {
    let until = Instant::now() + within;
    loop {
        let s = status(hub, url);
        if done(s["hosts"].as_array().unwrap()) {
            return s;
        }
        assert!(Instant::now() < until, "{what} within {within:?}: {s:#}");
        std::thread::sleep(Duration::from_millis(250));
    }
}
