//! `cargo xtask bench wasi3 [--with-peers]`: the WASI 0.3 hello handler against the 0.2 one
//! under the same wrk (fresh instances, 0.3 with `--reuse 128`, 0.2 alone and beside a 0.3
//! component in one app) and, with peers, against `wasmtime serve` 48; then the 0.3 chain front -> middle ->
//! end in process (runtime links) against the same chain over loopback HTTP.

use super::serve::{self, Sample};
use crate::util::{self, Result};
use crate::{guests, setup};

/// Runs interleaved rounds and prints the table and the ratios; with peers, `wasmtime
/// serve` 48 on the same 0.3 component (its default reuse, and reuse off) in the same rounds.
pub fn run(with_peers: bool) -> Result {
    setup::setup()?;
    setup::apt(&[("wrk", "wrk")])?;
    guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub", "-p", "graph-calls"])?;
    let target = util::target_dir();
    let bin = target.join("debug/wasmhub");
    let cache = target.join("bench-cache");
    let hello2 = target.join("guests/hello-http.wasm");
    let hello3 = target.join("guests/hello-http3.wasm");
    let mixed = mixed_app(&target, &hello2, &hello3)?;
    let mut servers = vec![
        serve::wasmhub_server(FRESH2, &bin, &cache, &[], &hello2),
        serve::wasmhub_server(BESIDE, &bin, &cache, &[], &mixed),
        serve::wasmhub_server(FRESH3, &bin, &cache, &["--wasi", "0.3"], &hello3),
        serve::wasmhub_server(
            REUSE3,
            &bin,
            &cache,
            &["--wasi", "0.3", "--reuse", "128"],
            &hello3,
        ),
    ];
    if let Some(wasmtime) = serve::wasmtime_cli(with_peers)? {
        for (name, flags) in [
            (WASMTIME, &[][..]),
            (WASMTIME_FRESH, &["--max-instance-reuse-count", "1"][..]),
        ] {
            let (wasmtime, hello3) = (wasmtime.clone(), hello3.clone());
            servers.push(serve::Server {
                name,
                log: serve::LogTo::File,
                cmd: Box::new(move |port| {
                    let mut c = std::process::Command::new(&wasmtime);
                    c.args(["serve", "-Scli", "--addr", &format!("127.0.0.1:{port}")])
                        .args(flags)
                        .arg(&hello3);
                    c
                }),
            });
        }
    } else {
        eprintln!(
            "(no wasmtime 48: `cargo xtask bench wasi3 --with-peers` installs it into target/peers)"
        );
    }
    let samples = serve::rounds(&servers)?;
    let m: Vec<Sample> = samples.iter().map(|s| serve::median_sample(s)).collect();
    println!(
        "\nwrk -t2 -c50 -d10s --latency, hello handler (12-byte body), medians of {} interleaved rounds",
        serve::ROUNDS
    );
    println!("| server | req/s | p50 ms | p99 ms | CPU us/req |\n|---|---:|---:|---:|---:|");
    for (server, s) in servers.iter().zip(&m) {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} |",
            server.name, s.rps, s.p50_ms, s.p99_ms, s.cpu_us_per_req
        );
    }
    let at = |name: &str| servers.iter().position(|s| s.name == name).map(|i| &m[i]);
    let (fresh2, beside, fresh3, reuse3) = (at(FRESH2), at(BESIDE), at(FRESH3), at(REUSE3));
    if let (Some(f3), Some(f2)) = (fresh3, fresh2) {
        println!(
            "\nwasmhub fresh 0.3 / fresh 0.2 CPU per request: {:.2}x (target <= 1.3x); throughput {:.2}x",
            f3.cpu_us_per_req / f2.cpu_us_per_req,
            f3.rps / f2.rps
        );
    }
    if let (Some(b), Some(f2)) = (beside, fresh2) {
        println!(
            "wasmhub 0.2 beside a 0.3 component / 0.2 alone: {:.3}x (target >= 0.97x)",
            b.rps / f2.rps
        );
    }
    if let Some(wt) = at(WASMTIME) {
        if let Some(f3) = fresh3 {
            println!(
                "wasmhub fresh 0.3 / wasmtime serve (reusing default): {:.2}x (target >= 0.8x)",
                f3.rps / wt.rps
            );
        }
        if let Some(r3) = reuse3 {
            println!(
                "wasmhub --reuse 128 0.3 / wasmtime serve (reusing default): {:.2}x (target >= 1.2x)",
                r3.rps / wt.rps
            );
        }
    }
    if let (Some(wf), Some(f3)) = (at(WASMTIME_FRESH), fresh3) {
        println!(
            "wasmhub fresh 0.3 / wasmtime serve --max-instance-reuse-count 1: {:.2}x",
            f3.rps / wf.rps
        );
    }
    println!();
    util::run(
        std::process::Command::new(target.join("debug/graph-calls"))
            .arg("chain")
            .arg(target.join("guests"))
            .arg(&bin)
            .arg(serve::ROUNDS.to_string()),
    )
}

const FRESH2: &str = "wasmhub fresh 0.2";
const BESIDE: &str = "wasmhub fresh 0.2 beside 0.3";
const FRESH3: &str = "wasmhub fresh 0.3";
const REUSE3: &str = "wasmhub --reuse 128 0.3";
const WASMTIME: &str = "wasmtime serve (default reuse)";
const WASMTIME_FRESH: &str = "wasmtime serve --max-instance-reuse-count 1";

/// An app serving the 0.2 hello on `/` and the 0.3 one beside it on `/v3/...`.
fn mixed_app(
    target: &std::path::Path,
    hello2: &std::path::Path,
    hello3: &std::path::Path,
) -> Result<std::path::PathBuf> {
    let dir = target.join("bench-wasi3");
    let path = dir.join("wasmhub.toml");
    let text = format!(
        "[app]\nname = \"mixed\"\n\n[component.old]\nsource = {:?}\nroute = \"/...\"\n\n\
         [component.new]\nsource = {:?}\nroute = \"/v3/...\"\nwasi = \"0.3\"\n",
        hello2.display().to_string(),
        hello3.display().to_string()
    );
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
