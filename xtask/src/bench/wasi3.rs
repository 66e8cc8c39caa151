//! `cargo xtask bench wasi3`: the WASI 0.3 hello handler against the 0.2 one under the
//! same wrk, both with a fresh instance per request; then the 0.3 chain front -> middle ->
//! end in process (runtime links) against the same chain over loopback HTTP.

use super::serve::{self, Sample};
use crate::util::{self, Result};
use crate::{guests, setup};

/// Runs interleaved rounds and prints the table and the ratio.
pub fn run() -> Result {
    setup::setup()?;
    setup::apt(&[("wrk", "wrk")])?;
    guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub", "-p", "graph-calls"])?;
    let target = util::target_dir();
    let bin = target.join("debug/wasmhub");
    let cache = target.join("bench-cache");
    let servers = [
        serve::wasmhub_server(
            "WASI 0.2",
            &bin,
            &cache,
            &[],
            &target.join("guests/hello-http.wasm"),
        ),
        serve::wasmhub_server(
            "WASI 0.3",
            &bin,
            &cache,
            &["--wasi", "0.3"],
            &target.join("guests/hello-http3.wasm"),
        ),
    ];
    let samples = serve::rounds(&servers)?;
    let m: Vec<Sample> = samples.iter().map(|s| serve::median_sample(s)).collect();
    println!(
        "\nwrk -t2 -c50 -d10s --latency, hello handler (12-byte body), fresh instance per request, medians of {} rounds",
        serve::ROUNDS
    );
    println!("| handler | req/s | p50 ms | p99 ms | CPU us/req |\n|---|---:|---:|---:|---:|");
    for (server, s) in servers.iter().zip(&m) {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} |",
            server.name, s.rps, s.p50_ms, s.p99_ms, s.cpu_us_per_req
        );
    }
    println!(
        "\nWASI 0.3 / WASI 0.2 throughput: {:.2}x",
        m[1].rps / m[0].rps
    );
    println!();
    util::run(
        std::process::Command::new(target.join("debug/graph-calls"))
            .arg("chain")
            .arg(target.join("guests"))
            .arg(&bin)
            .arg(serve::ROUNDS.to_string()),
    )
}
