//! `cargo xtask bench polyglot`: the Rust, JavaScript and Python guests side by side: size,
//! first call with an empty and a warm compile cache, and `serve` throughput of the hello
//! handler, with the Rust guest as the baseline.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::serve::{self, Sample, Server};
use crate::util::{self, Result};
use crate::{guests, setup};

/// Empty-cache first calls timed per language (each compiles the component from scratch).
const COLD_CALLS: usize = 3;

/// What the CPython runtime imports whatever the world says: a directory and a socket rule.
const PYTHON_GRANTS: &[&str] = &["--dir", ".::/app:ro", "--connect", "tcp://127.0.0.1:9"];

struct Language {
    name: &'static str,
    greet: PathBuf,
    hello: PathBuf,
    grants: &'static [&'static str],
}

/// Runs the benchmark and prints one table with ratios to Rust (and, `with_peers`, to
/// `wasmtime serve` on the same JavaScript and Python components).
pub fn run(with_peers: bool) -> Result {
    setup::setup()?;
    setup::apt(&[("wrk", "wrk"), ("hyperfine", "hyperfine")])?;
    guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub"])?;
    let target = util::target_dir();
    let guest = |name: &str| target.join(format!("guests/{name}.wasm"));
    let languages = [
        Language {
            name: "Rust",
            greet: guest("greet"),
            hello: guest("hello-http"),
            grants: &[],
        },
        Language {
            name: "JavaScript",
            greet: guest("js-greet"),
            hello: guest("js-hello-http"),
            grants: &[],
        },
        Language {
            name: "Python",
            greet: guest("py-greet"),
            hello: guest("py-hello-http"),
            grants: PYTHON_GRANTS,
        },
    ];
    let bin = target.join("debug/wasmhub");
    let cache = target.join("bench-cache");
    let call = r#"greet("world")"#;

    let mut rows = Vec::new();
    for lang in &languages {
        let cold = cold_first_call(&bin, &lang.greet, call)?;
        let warm = warm_call(&bin, &cache, &lang.greet, call)?;
        rows.push((size(&lang.greet), size(&lang.hello), cold, warm));
        eprintln!("{}: cold {cold:.0} ms, warm {warm:.1} ms", lang.name);
    }
    let mut servers: Vec<Server> = languages
        .iter()
        .map(|lang| serve::wasmhub_server(lang.name, &bin, &cache, lang.grants, &lang.hello))
        .collect();
    let peers = match serve::wasmtime_cli(with_peers)? {
        Some(wasmtime) => languages[1..]
            .iter()
            .map(|lang| wasmtime_server(&wasmtime, lang))
            .collect(),
        None => Vec::new(),
    };
    servers.extend(peers);
    let samples = serve::rounds(&servers)?;
    let served: Vec<Sample> = samples.iter().map(|s| serve::median_sample(s)).collect();

    println!(
        "\n`invoke {call}`: cold = empty compile cache (median of {COLD_CALLS}), warm = cache warm \
         (hyperfine mean); serve = hello handler, fresh instance per request, wrk -t2 -c50 -d10s, \
         median of {} rounds",
        serve::ROUNDS
    );
    println!(
        "| guest | greet size | hello size | cold invoke ms | warm invoke ms | serve req/s | serve p99 ms | CPU us/req | serve vs Rust |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let rust_rps = served[0].rps;
    for ((lang, (greet, hello, cold, warm)), s) in languages.iter().zip(&rows).zip(&served) {
        println!(
            "| {} | {} | {} | {cold:.0} | {warm:.1} | {:.0} | {:.2} | {:.0} | {:.3}x |",
            lang.name,
            mib(*greet),
            mib(*hello),
            s.rps,
            s.p99_ms,
            s.cpu_us_per_req,
            s.rps / rust_rps
        );
    }
    if served.len() > languages.len() {
        println!("\nsame components under `wasmtime serve` 48 (same rounds):");
        println!("| server | req/s | p99 ms | CPU us/req | user us | kernel us | faults/req |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for (server, s) in servers.iter().zip(&served) {
            println!(
                "| {} | {:.0} | {:.2} | {:.0} | {:.0} | {:.0} | {:.2} |",
                server.name,
                s.rps,
                s.p99_ms,
                s.cpu_us_per_req,
                s.user_us_per_req,
                s.sys_us_per_req,
                s.faults_per_req
            );
        }
        let peer = &served[languages.len()..];
        for ((lang, ours), theirs) in languages[1..].iter().zip(&served[1..]).zip(peer) {
            println!(
                "{}: wasmhub / wasmtime serve throughput {:.2}x (target >= 2x)",
                lang.name,
                ours.rps / theirs.rps
            );
        }
    }
    println!();
    for ((lang, (_, _, _, warm)), s) in languages.iter().zip(&rows).zip(&served).skip(1) {
        println!(
            "{}: warm invoke {warm:.1} ms (target <= 15 ms: {}), serve {:.3}x Rust (target >= 0.25x: {})",
            lang.name,
            if *warm <= 15.0 { "met" } else { "missed" },
            s.rps / rust_rps,
            if s.rps / rust_rps >= 0.25 {
                "met"
            } else {
                "missed"
            }
        );
    }
    Ok(())
}

/// Milliseconds for `invoke` with a fresh, empty compile cache: compile and first call.
fn cold_first_call(bin: &Path, component: &Path, call: &str) -> Result<f64> {
    let mut times = Vec::new();
    for _ in 0..COLD_CALLS {
        let cache = util::target_dir().join("bench-cold-cache");
        let _ = std::fs::remove_dir_all(&cache);
        let start = Instant::now();
        util::run_quiet(
            Command::new(bin)
                .args(["invoke", "--cache-dir"])
                .arg(&cache)
                .arg(component)
                .arg(call)
                .stdout(std::process::Stdio::null()),
        )?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(serve::median(&mut times))
}

/// Mean milliseconds (hyperfine) of `invoke` with the compile cache warm.
fn warm_call(bin: &Path, cache: &Path, component: &Path, call: &str) -> Result<f64> {
    let json = util::target_dir().join("bench-polyglot.json");
    let command = format!(
        "{} invoke --cache-dir {} {} '{call}'",
        bin.display(),
        cache.display(),
        component.display()
    );
    util::run_quiet(
        Command::new("hyperfine")
            .args(["-N", "--warmup", "3", "--runs", "30", "--export-json"])
            .arg(&json)
            .arg(&command)
            .stdout(std::process::Stdio::null()),
    )?;
    let means = super::invoke::read_means(&json)?;
    let (_, mean, _) = means.first().ok_or("hyperfine measured nothing")?;
    Ok(mean * 1e3)
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn mib(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
    }
}

/// `wasmtime serve` of `lang`'s hello handler, given what its runtime imports needs.
fn wasmtime_server(wasmtime: &Path, lang: &Language) -> Server {
    let (wasmtime, hello) = (wasmtime.to_owned(), lang.hello.clone());
    let python = !lang.grants.is_empty();
    Server {
        name: if python {
            "Python (wasmtime serve)"
        } else {
            "JavaScript (wasmtime serve)"
        },
        log: serve::LogTo::File,
        cmd: Box::new(move |port| {
            let mut c = Command::new(&wasmtime);
            c.args(["serve", "-Scli", "--addr", &format!("127.0.0.1:{port}")]);
            if python {
                c.args(["--dir", ".::/app"]);
            }
            c.arg(&hello);
            c
        }),
    }
}
