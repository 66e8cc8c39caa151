//! Deploys and host loss under load: time from `wasmhub deploy` returning to every host
//! serving the new revision (asked directly, every 10 ms), failed requests through haproxy
//! during a rolling deploy and around a `kill -9` of one host.

use std::path::Path;
use std::time::{Duration, Instant};

use wasmhub_cluster::testing::fleet::{Haproxy, HostProc, Load, Sent, failures, get};

use crate::{Fleet, Result};

/// Clients of the steady load (each sends its next request when the last is answered).
const CLIENTS: usize = 4;
/// How long a deploy may take to reach every host before the bench gives up.
const CONVERGE_WITHIN: Duration = Duration::from_secs(60);

/// What a deploy and a host loss cost.
pub struct Figures {
    /// Seconds from `deploy` returning to every host serving it: under load, then idle.
    pub converge_loaded_s: f64,
    /// The same for a deploy without load.
    pub converge_idle_s: f64,
    /// (failed, requests) during the deploy under load, until 2 s after it converged.
    pub deploy_failed: (usize, usize),
    /// (failed, requests) from 2 s before to 6 s after the kill.
    pub kill_failed: (usize, usize),
    /// Failed among requests sent from 2 s after the kill.
    pub kill_failed_after_2s: usize,
}

/// Deploys `v2` under load and `v3` idle, then kills the last host under load.
pub fn measure(fleet: &Fleet, dir: &Path, mut hosts: Vec<HostProc>) -> Result<Figures> {
    let refs: Vec<&HostProc> = hosts.iter().collect();
    let proxy = Haproxy::launch(dir, &refs, None);

    let load = Load::start(proxy.addr, CLIENTS);
    std::thread::sleep(Duration::from_secs(2));
    let converge_loaded_s = deploy_and_wait(fleet, &hosts, "v2")?;
    std::thread::sleep(Duration::from_secs(2));
    let answers = load.stop();
    let deploy_failed = counts(&answers);

    let converge_idle_s = deploy_and_wait(fleet, &hosts, "v3")?;

    let load = Load::start(proxy.addr, CLIENTS);
    std::thread::sleep(Duration::from_secs(2));
    let mut victim = hosts.pop().ok_or("no host to kill")?;
    let killed_at = Instant::now();
    victim.child.kill()?;
    victim.child.wait()?;
    std::thread::sleep(Duration::from_secs(6));
    let answers = load.stop();
    drop(victim);
    let kill_failed = counts(&answers);
    let late: Vec<Vec<Sent>> = answers
        .into_iter()
        .map(|a| {
            a.into_iter()
                .filter(|(sent, _, _)| *sent > killed_at + Duration::from_secs(2))
                .collect()
        })
        .collect();
    Ok(Figures {
        converge_loaded_s,
        converge_idle_s,
        deploy_failed,
        kill_failed,
        kill_failed_after_2s: failures(&late).len(),
    })
}

fn counts(answers: &[Vec<Sent>]) -> (usize, usize) {
    let failed = failures(answers);
    for f in failed.iter().take(5) {
        eprintln!("  failed: {f}");
    }
    (failed.len(), answers.iter().map(Vec::len).sum())
}

/// Deploys revision `version`; seconds from `deploy` returning to every host answering it.
fn deploy_and_wait(fleet: &Fleet, hosts: &[HostProc], version: &str) -> Result<f64> {
    fleet.deploy(version)?;
    let returned = Instant::now();
    let mut pending: Vec<&HostProc> = hosts.iter().collect();
    while !pending.is_empty() {
        pending.retain(|h| !get(h.addr, "/").is_ok_and(|a| a.body.trim() == version));
        if returned.elapsed() > CONVERGE_WITHIN {
            let ids: Vec<&str> = pending.iter().map(|h| h.id.as_str()).collect();
            return Err(format!(
                "hosts {ids:?} did not serve {version} within {CONVERGE_WITHIN:?} of deploy"
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = returned.elapsed().as_secs_f64();
    eprintln!("deploy {version}: every host serves it {took:.2} s after deploy returned");
    Ok(took)
}
