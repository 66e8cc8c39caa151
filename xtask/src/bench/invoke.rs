//! `cargo xtask bench invoke`: hyperfine timings of `wasmhub invoke` against baselines run alongside.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{self, Result};
use crate::{guests, setup};

/// Warm-cache `invoke` of a small and a large component, against a native binary and,
/// when available, `wasmtime run --invoke`.
pub fn run(with_peers: bool) -> Result {
    setup::setup()?;
    setup::apt(&[("hyperfine", "hyperfine")])?;
    guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub", "-p", "native-greet"])?;
    let target = util::target_dir();
    let bin = target.join("debug/wasmhub");
    let native = target.join("debug/native-greet");
    let greet = target.join("guests/greet.wasm");
    let big = target.join("guests/big.wasm");
    let cache = target.join("bench-cache");
    let sh = |p: &Path| p.display().to_string();
    let wasmhub = |component: &Path, call: &str| {
        format!(
            "{} invoke --cache-dir {} {} '{call}'",
            sh(&bin),
            sh(&cache),
            sh(component)
        )
    };
    let mut cases: Vec<(&str, String)> = vec![
        ("native", format!("{} world", sh(&native))),
        ("wasmhub greet", wasmhub(&greet, r#"greet("world")"#)),
        ("wasmhub big", wasmhub(&big, "size()")),
    ];
    match super::serve::wasmtime_cli(with_peers)? {
        Some(wasmtime) => cases.push((
            "wasmtime greet",
            format!(
                "{} run --invoke 'greet(\"world\")' {}",
                sh(&wasmtime),
                sh(&greet)
            ),
        )),
        None => eprintln!("(no wasmtime 48: `--with-peers` installs it into target/peers)"),
    }
    let json = target.join("bench-invoke.json");
    let mut cmd = Command::new("hyperfine");
    cmd.args(["-N", "--warmup", "5", "--runs", "40", "--export-json"])
        .arg(&json);
    for (name, command) in &cases {
        cmd.args(["-n", name, command]);
    }
    util::run(&mut cmd)?;
    let means = read_means(&json)?;
    let get = |name: &str| means.iter().find(|(n, _, _)| n == name).map(|(_, m, _)| *m);
    println!("\n| case | mean ms | ± ms |\n|---|---:|---:|");
    for (name, mean, sd) in &means {
        println!("| {name} | {:.2} | {:.2} |", mean * 1e3, sd * 1e3);
    }
    println!();
    let ratio = |a: &str, b: &str| {
        if let (Some(x), Some(y)) = (get(a), get(b)) {
            println!("{a} / {b}: {:.2}x", x / y);
        }
    };
    ratio("wasmhub greet", "native");
    ratio("wasmhub greet", "wasmtime greet");
    ratio("wasmhub big", "wasmhub greet");
    let size = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!(
        "sizes: greet {} bytes, big {} bytes",
        size(&greet),
        size(&big)
    );
    Ok(())
}

/// (name, mean s, stddev s) of each command in hyperfine's JSON export.
pub(super) fn read_means(path: &Path) -> Result<Vec<(String, f64, f64)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let results = v["results"]
        .as_array()
        .ok_or("hyperfine JSON has no results")?;
    Ok(results
        .iter()
        .map(|r| {
            (
                r["command"].as_str().unwrap_or("?").to_owned(),
                r["mean"].as_f64().unwrap_or(f64::NAN),
                r["stddev"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect())
}
