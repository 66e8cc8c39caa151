//! `cargo xtask bench kv`: the embedded key-value store called directly (the baseline),
//! durable `set` throughput at 1, 16 and 256 writers, and fsyncs per acknowledged write
//! counted two ways: the store's own commit counter and `strace -c`.

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
    rows.extend(serve_rows()?);
    print_table(&rows);
    Ok(())
}

/// Rows measured through `wasmhub serve` with a guest (guest `get` overhead over the
/// direct call, durable `set` through HTTP at 1, 16 and 256 connections). None yet: the
/// guests land separately; add them here and they join the same table.
fn serve_rows() -> Result<Vec<Row>> {
    Ok(Vec::new())
}

fn parse_rows(out: &str) -> Vec<Row> {
    out.lines()
        .filter_map(|line| {
            let mut parts = line.split('\t');
            (parts.next()? == "row").then_some(())?;
            let name = parts.next()?.to_owned();
            let value = parts.next()?.parse().ok()?;
            let unit = parts.next()?.to_owned();
            Some(Row { name, value, unit })
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
    Ok(Row {
        name: format!("fsyncs per acknowledged write (strace), {writers} writers"),
        value: syncs(&summary) as f64 / writes.max(1.0),
        unit: "fsyncs/write".into(),
    })
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

/// The target for a row, if it has one.
fn target(name: &str) -> &'static str {
    if name == "Kv::set durable, 256 writers" {
        ">= 10000"
    } else if name.starts_with("fsyncs per acknowledged write") && name.ends_with(", 256 writers") {
        "<= 0.05"
    } else {
        ""
    }
}

fn print_table(rows: &[Row]) {
    println!("\n| measure | value | unit | target |");
    println!("|---|---:|---|---|");
    for r in rows {
        let value = if r.value >= 100.0 {
            format!("{:.0}", r.value)
        } else {
            format!("{:.4}", r.value)
        };
        println!(
            "| {} | {} | {} | {} |",
            r.name,
            value,
            r.unit,
            target(&r.name)
        );
    }
}
