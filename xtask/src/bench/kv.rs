//! `cargo xtask bench kv`: the embedded key-value store called directly (the baseline),
//! durable `set` throughput at 1, 16 and 256 writers, and fsyncs per acknowledged write
//! counted two ways: the store's own commit counter and `strace -c`; then the same
//! measures through `wasmhub serve` and a guest ([`served`]), in one table with the
//! issue's targets.

mod served;

use std::process::Command;

use crate::setup;
use crate::util::{self, Result};

/// Seconds of load per `strace`d run.
const STRACE_SECONDS: &str = "3";
const WRITERS: [u32; 3] = [1, 16, 256];

/// One line of the table.
pub(super) struct Row {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub target: Option<Target>,
}

impl Row {
    fn new(name: &str, value: f64, unit: &str) -> Self {
        Self {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            target: None,
        }
    }

    /// A row of the direct store, with the target the issue sets for it.
    fn direct(name: &str, value: f64, unit: &str) -> Self {
        Self {
            target: direct_target(name),
            ..Self::new(name, value, unit)
        }
    }

    fn with_target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }
}

/// A bound the issue sets for a row.
#[derive(Clone, Copy)]
pub(super) enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(t) => value >= t,
            Target::AtMost(t) => value <= t,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::AtLeast(t) => write!(f, ">= {t}"),
            Target::AtMost(t) => write!(f, "<= {t}"),
        }
    }
}

/// Builds the benchmark, runs it plain and under `strace`, and prints the table.
pub fn run() -> Result {
    setup::setup()?;
    util::cargo(&["build", "--quiet", "-p", "kv-store"])?;
    let target = util::target_dir();
    let bin = target.join("debug/kv-store");
    let data = target.join("bench-kv");
    std::fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;

    let out = util::output(Command::new(&bin).arg(&data))
        .ok_or_else(|| format!("`{} {}` failed", bin.display(), data.display()))?;
    let mut rows = parse_rows(&out);
    for writers in WRITERS {
        rows.push(strace_row(&bin, &data, writers)?);
    }
    let direct_get = rows.iter().position(|r| r.name == DIRECT_GET);
    let (gets, sets) = served::rows(direct_get.map(|i| rows[i].value))?;
    // The guest's get beside the direct one, the served sets after the direct ones.
    let at = direct_get.map_or(rows.len(), |i| i + 1);
    rows.splice(at..at, gets);
    rows.extend(sets);
    print_table(&rows);
    Ok(())
}

/// The baseline row of `kv-store` a guest's `get` is compared with.
const DIRECT_GET: &str = "Kv::get, 100-byte value, direct (baseline)";

fn parse_rows(out: &str) -> Vec<Row> {
    out.lines()
        .filter_map(|line| {
            let mut parts = line.split('\t');
            (parts.next()? == "row").then_some(())?;
            let name = parts.next()?;
            let value = parts.next()?.parse().ok()?;
            Some(Row::direct(name, value, parts.next()?))
        })
        .collect()
}

/// fsync and fdatasync calls per acknowledged write of a `set` load, counted by strace.
fn strace_row(bin: &std::path::Path, data: &std::path::Path, writers: u32) -> Result<Row> {
    let report = data.join(format!("strace-{writers}.txt"));
    let out = util::output(
        Command::new("strace")
            .args(["-f", "-c", "-e", "trace=fsync,fdatasync", "-o"])
            .arg(&report)
            .arg(bin)
            .arg(data)
            .args(["set", &writers.to_string(), STRACE_SECONDS]),
    )
    .ok_or("strace of the set load failed")?;
    let writes: f64 = out
        .split_whitespace()
        .skip_while(|w| *w != "writes")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no write count in {out:?}"))?;
    let summary = std::fs::read_to_string(&report)
        .map_err(|e| format!("cannot read {}: {e}", report.display()))?;
    let name = format!("fsyncs per acknowledged write (strace), {writers} writers");
    Ok(Row::direct(
        &name,
        syncs(&summary) as f64 / writes.max(1.0),
        "fsyncs/write",
    ))
}

/// The fsync and fdatasync calls in a `strace -c` summary.
fn syncs(summary: &str) -> u64 {
    summary
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let name = *cols.last()?;
            (name == "fsync" || name == "fdatasync").then(|| cols.get(3)?.parse::<u64>().ok())?
        })
        .sum()
}

/// The target for a row of the direct store, if it has one (the store alone must
/// meet what the issue asks of it through `serve`).
fn direct_target(name: &str) -> Option<Target> {
    if name == "Kv::set durable, 256 writers" {
        Some(Target::AtLeast(10_000.0))
    } else if name.starts_with("fsyncs per acknowledged write") && name.ends_with(", 256 writers") {
        Some(Target::AtMost(0.05))
    } else {
        None
    }
}

fn print_table(rows: &[Row]) {
    println!("\n| measure | value | unit | target | met |");
    println!("|---|---:|---|---|---|");
    for r in rows {
        let value = if r.value.abs() >= 100.0 {
            format!("{:.0}", r.value)
        } else {
            format!("{:.4}", r.value)
        };
        let (target, met) = match r.target {
            Some(t) => (t.to_string(), if t.met(r.value) { "yes" } else { "NO" }),
            None => (String::new(), ""),
        };
        println!("| {} | {value} | {} | {target} | {met} |", r.name, r.unit);
    }
}
