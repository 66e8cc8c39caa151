//! `cargo xtask bench isolation`: the Rust and JavaScript hello handlers served in-process
//! and in a worker process (`--isolation process`), under the same wrk as `bench serve`;
//! server CPU includes the worker's.

use super::sample;
use super::serve::{self, Sample};
use crate::util::{self, Result};
use crate::{guests, setup};

/// Runs interleaved rounds and prints the table and the ratios.
pub fn run() -> Result {
    setup::setup()?;
    setup::apt(&[("wrk", "wrk")])?;
    guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub"])?;
    let target = util::target_dir();
    let bin = target.join("debug/wasmhub");
    let cache = target.join("bench-cache");
    let rust = target.join("guests/hello-http.wasm");
    let js = target.join("guests/js-hello-http.wasm");
    let process = ["--isolation", "process"];
    let servers = [
        serve::wasmhub_server("Rust in-process", &bin, &cache, &[], &rust),
        serve::wasmhub_server("Rust process", &bin, &cache, &process, &rust),
        serve::wasmhub_server("JS in-process", &bin, &cache, &[], &js),
        serve::wasmhub_server("JS process", &bin, &cache, &process, &js),
    ];
    let samples = serve::rounds(&servers)?;
    let m: Vec<Sample> = samples.iter().map(|s| serve::median_sample(s)).collect();
    println!(
        "\nwrk -t2 -c50 -d10s --latency, hello handler, fresh instance per request, medians of {} rounds",
        serve::ROUNDS
    );
    let starts_and_rss = servers
        .iter()
        .map(|server| Ok((serve::cold_start(server)?, rss_after_load(server)?)))
        .collect::<Result<Vec<_>>>()?;
    println!(
        "| server | req/s | p50 ms | p99 ms | CPU us/req | cold start ms | server RSS MiB | tenant worker RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for ((server, s), (cold, (own, workers))) in servers.iter().zip(&m).zip(&starts_and_rss) {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {cold:.1} | {own:.1} | {} |",
            server.name,
            s.rps,
            s.p50_ms,
            s.p99_ms,
            s.cpu_us_per_req,
            if *workers > 0.0 {
                format!("{workers:.1}")
            } else {
                "-".into()
            }
        );
    }
    println!(
        "(cold start: spawn to the first 200, median of 10; in process mode that first request waits for its tenant's worker. \
         RSS after 3 s of load: the server's own, and its tenant's worker processes' together.)"
    );
    for (lang, i) in [("Rust", 0), ("JS", 2)] {
        println!(
            "{lang}: process / in-process throughput {:.2}x (target >= 0.75x), p99 {:+.2} ms (target <= +1 ms)",
            m[i + 1].rps / m[i].rps,
            m[i + 1].p99_ms - m[i].p99_ms
        );
    }
    Ok(())
}

/// The server's resident memory and its worker processes' (MiB), after 3 s of load.
fn rss_after_load(server: &serve::Server) -> Result<(f64, f64)> {
    let running = serve::Running::start(server, "/")?;
    serve::Wrk {
        threads: 2,
        connections: 50,
        seconds: 3,
        path: "/",
        script: None,
    }
    .run(running.port)?;
    let workers = sample::descendants(running.pid())
        .into_iter()
        .map(sample::rss_mib)
        .sum();
    Ok((sample::rss_mib(running.pid()), workers))
}
