//! `cargo xtask fuzz [SECONDS] [TARGET...]`: runs each libFuzzer target of `fuzz/` for a set
//! time (`cargo fuzz` on the nightly toolchain; cargo-fuzz is installed into target/tools)
//! and prints executions, corpus size and crashes per target.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::util::{self, Result};
use crate::{guests, setup};

/// The targets: one file each in `fuzz/fuzz_targets/`.
fn targets() -> Vec<String> {
    let dir = util::root().join("fuzz/fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some(name.strip_suffix(".rs")?.to_owned())
        })
        .collect();
    names.sort();
    names
}

/// What one run found.
struct Run {
    target: String,
    seconds: f64,
    executions: u64,
    corpus: usize,
    crash: Option<String>,
}

/// Runs the targets named in `args` (all by default) for the seconds given first (60).
pub fn fuzz(args: &[&str]) -> Result {
    let (seconds, names) = match args.split_first() {
        Some((s, rest)) if s.parse::<u64>().is_ok() => (s.parse::<u64>().unwrap_or(60), rest),
        _ => (60, args),
    };
    let all = targets();
    let targets: Vec<String> = if names.is_empty() {
        all.clone()
    } else {
        names.iter().map(|n| (*n).to_owned()).collect()
    };
    if let Some(bad) = targets.iter().find(|t| !all.contains(t)) {
        return Err(format!(
            "no fuzz target `{bad}`: the targets are {}",
            all.join(", ")
        ));
    }
    setup::setup()?;
    guests::build()?;
    let tools = install_cargo_fuzz()?;
    let mut runs = Vec::new();
    for t in &targets {
        runs.push(run(&tools, t, seconds)?);
    }
    println!(
        "\n| target | seconds | executions | exec/s | corpus | crashes |\n|---|---:|---:|---:|---:|---:|"
    );
    for r in &runs {
        println!(
            "| {} | {:.0} | {} | {:.0} | {} | {} |",
            r.target,
            r.seconds,
            r.executions,
            r.executions as f64 / r.seconds.max(0.001),
            r.corpus,
            u8::from(r.crash.is_some())
        );
    }
    let crashed: Vec<&Run> = runs.iter().filter(|r| r.crash.is_some()).collect();
    if crashed.is_empty() {
        return Ok(());
    }
    for r in &crashed {
        eprintln!(
            "{}: crashed on {}; reproduce with `cargo +nightly fuzz run {} -s none -a FILE` in fuzz/, \
             fix it, then keep the input as fuzz/corpus/{}/crash-NAME",
            r.target,
            r.crash.as_deref().unwrap_or("?"),
            r.target,
            r.target
        );
    }
    Err(format!("{} target(s) crashed", crashed.len()))
}

/// The folder whose `bin/` holds cargo-fuzz, installing it there if missing.
fn install_cargo_fuzz() -> Result<std::path::PathBuf> {
    let tools = util::target_dir().join("tools");
    if !tools.join("bin/cargo-fuzz").is_file() {
        util::run(
            Command::new(util::cargo_bin())
                .args(["install", "--locked", "cargo-fuzz@0.13.2", "--root"])
                .arg(&tools),
        )?;
    }
    let nightly = util::output(Command::new("rustup").args(["toolchain", "list"]))
        .is_some_and(|l| l.lines().any(|t| t.starts_with("nightly")));
    if !nightly {
        return Err(
            "cargo fuzz needs a nightly toolchain: `rustup toolchain install nightly --profile minimal`"
                .into(),
        );
    }
    Ok(tools)
}

/// Runs one target for `seconds` on its corpus; libFuzzer stops at the first crash.
fn run(tools: &Path, target: &str, seconds: u64) -> Result<Run> {
    let fuzz_dir = util::root().join("fuzz");
    let corpus = fuzz_dir.join("corpus").join(target);
    let path = std::env::join_paths(std::iter::once(tools.join("bin")).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .map_err(|e| e.to_string())?;
    let mut cmd = Command::new("cargo");
    cmd.args(["+nightly", "fuzz", "run", target])
        .arg(&corpus)
        .args(["-s", "none", "-a", "--"])
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .env("PATH", path)
        .env("WASMHUB_GUESTS", util::target_dir().join("guests"))
        .current_dir(&fuzz_dir);
    eprintln!("+ cargo +nightly fuzz run {target} ... -max_total_time={seconds}");
    let started = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&out.stderr);
    let executions = log
        .lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok());
    // libFuzzer's own clock (`Done N runs in S second(s)`), without cargo's build time.
    let seconds = log
        .lines()
        .find_map(|l| {
            l.split_once(" runs in ")?
                .1
                .split(' ')
                .next()?
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(seconds);
    let crash = log
        .lines()
        .find_map(|l| l.split_once("Test unit written to "))
        .map(|(_, f)| f.trim().to_owned());
    if executions.is_none() && crash.is_none() {
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "cargo fuzz run {target} did not run:\n{}",
            tail.join("\n")
        ));
    }
    let corpus = std::fs::read_dir(&corpus).map_or(0, Iterator::count);
    Ok(Run {
        target: target.to_owned(),
        seconds,
        executions: executions.unwrap_or(0),
        corpus,
        crash,
    })
}
