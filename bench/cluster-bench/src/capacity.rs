//! Capacity with 1, 2 and 3 hosts: wrk through haproxy on a route that waits 20 ms per
//! request, each host limited to [`INSTANCES`] instances (haproxy sends each at most that
//! many requests at once and queues the rest), interleaved rounds.

use std::path::Path;
use std::process::Command;

use wasmhub_cluster::testing::fleet::{Haproxy, HostProc};

use crate::Result;

/// Instances per host (`wasmhub host --max-instances`, haproxy's `maxconn` per server).
pub const INSTANCES: u32 = 8;
/// The route that waits 20 ms.
pub const PATH: &str = "/wait";
/// wrk's connections: three times what 3 hosts take at once, so each run saturates.
pub const CONNECTIONS: u32 = 72;
/// Seconds per wrk run.
pub const SECONDS: u32 = 8;
/// Interleaved rounds over 1, 2 and 3 hosts.
pub const ROUNDS: usize = 3;

/// One wrk run's figures.
#[derive(Clone, Copy, Default)]
pub struct Run {
    /// Answered 2xx per second.
    pub ok_rps: f64,
    /// Latency percentiles.
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
    /// Non-2xx answers and socket errors.
    pub failed: u64,
}

/// Runs wrk through haproxy in front of the first 1, 2, 3 hosts, [`ROUNDS`] times
/// interleaved; each host count's runs, in order.
pub fn measure(dir: &Path, hosts: &[HostProc]) -> Result<Vec<Vec<Run>>> {
    let mut runs = vec![Vec::new(); hosts.len()];
    for round in 1..=ROUNDS {
        for n in 1..=hosts.len() {
            let front: Vec<&HostProc> = hosts[..n].iter().collect();
            let proxy = Haproxy::launch(dir, &front, Some(INSTANCES));
            let run = wrk(&format!("http://{}{PATH}", proxy.addr))?;
            drop(proxy);
            eprintln!(
                "round {round}: {n} host(s) {:>7.0} req/s  p50 {:.1} ms  p99 {:.1} ms  failed {}",
                run.ok_rps, run.p50_ms, run.p99_ms, run.failed
            );
            runs[n - 1].push(run);
        }
    }
    Ok(runs)
}

fn wrk(url: &str) -> Result<Run> {
    let out = Command::new("wrk")
        .args([
            "-t2".to_owned(),
            format!("-c{CONNECTIONS}"),
            format!("-d{SECONDS}s"),
            "--latency".to_owned(),
            url.to_owned(),
        ])
        .output()
        .map_err(|e| format!("cannot run wrk (apt install wrk; cargo xtask bench does): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr)).into());
    }
    parse(&text)
}

/// wrk's report: 2xx per second, latency percentiles, failures.
fn parse(text: &str) -> Result<Run> {
    let (mut rps, mut requests, mut non2xx, mut errors) = (0.0, 0.0, 0.0, 0.0);
    let mut run = Run::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => rps = n.parse().unwrap_or(0.0),
            ["50%", v] => run.p50_ms = ms(v),
            ["99%", v] => run.p99_ms = ms(v),
            [n, "requests", "in", ..] => requests = n.parse().unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => non2xx = n.parse().unwrap_or(0.0),
            ["Socket", "errors:", rest @ ..] => {
                errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<f64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    if requests == 0.0 {
        return Err(format!("wrk reported no requests:\n{text}").into());
    }
    run.ok_rps = rps * (requests - non2xx) / requests;
    run.failed = (non2xx + errors) as u64;
    Ok(run)
}

fn ms(v: &str) -> f64 {
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1e3,
        "ms" => n,
        "s" => n * 1e3,
        _ => f64::NAN,
    }
}

/// The middle run of `runs` by 2xx per second.
pub fn median(runs: &[Run]) -> Run {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.ok_rps.total_cmp(&b.ok_rps));
    sorted[sorted.len() / 2]
}
