//! The rows of `cargo xtask bench kv` measured through the real host: the `kv-bench` guest
//! under `wasmhub serve` (the same binary `bench serve` loads), its store a data dir of
//! its own in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Row, Target, syncs};
use crate::bench::http;
use crate::bench::serve::{self, Running, Server, Wrk};
use crate::util::{self, Result};

/// `get`s per timed request.
const GETS: u64 = 200_000;
/// Timed requests of each loop; the median of each is used.
const GET_ROUNDS: usize = 7;
/// The value `get` reads: as large as the direct baseline's.
const VALUE_BYTES: usize = 100;
/// Seconds of each wrk run of `set`.
const SET_SECONDS: u32 = 5;
const CONNECTIONS: [u32; 3] = [1, 16, 256];

/// The app: `kv-bench` on every path, granted the store `default`, allowed the loop's gets.
const MANIFEST: &str = r#"[app]
name = "kv-bench"

[component.bench]
source = SOURCE
route = "/..."

[component.bench.grant]
keyvalue = ["default"]

[component.bench.budget]
kv-ops = 1000000
"#;

/// Guest `get` through `serve` (per op, and over `direct_get_us`, the direct call's figure
/// from the same run) and durable `set` through `serve` at 1, 16 and 256 connections.
pub(super) fn rows(direct_get_us: Option<f64>) -> Result<(Vec<Row>, Vec<Row>)> {
    crate::setup::apt(&[("wrk", "wrk")])?;
    crate::guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub"])?;
    let target = util::target_dir();
    let tmp = tempfile::Builder::new()
        .prefix("wasmhub-bench-kv")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let manifest = tmp.path().join("wasmhub.toml");
    let guest = target.join("guests/kv-bench.wasm");
    let source = format!("{:?}", guest.display().to_string());
    std::fs::write(&manifest, MANIFEST.replace("SOURCE", &source))
        .map_err(|e| format!("cannot write {}: {e}", manifest.display()))?;
    let app = App {
        bin: target.join("debug/wasmhub"),
        cache: target.join("bench-cache"),
        manifest,
        tmp: tmp.path().to_owned(),
    };
    let gets = get_rows(&app, direct_get_us)?;
    let mut sets = Vec::new();
    for c in CONNECTIONS {
        sets.extend(set_rows(&app, c)?);
    }
    Ok((gets, sets))
}

/// How to serve the app.
struct App {
    bin: PathBuf,
    cache: PathBuf,
    manifest: PathBuf,
    tmp: PathBuf,
}

impl App {
    /// Serves the app with its state in a fresh `data` folder of the temporary directory.
    fn start(&self, data: &str) -> Result<Running> {
        let data = self.tmp.join(data).display().to_string();
        let flags = ["--data-dir", data.as_str()];
        let server: Server = serve::wasmhub_server(
            "wasmhub serve",
            &self.bin,
            &self.cache,
            &flags,
            &self.manifest,
        );
        Running::start(&server, "/noop-loop?n=1")
    }
}

/// One timed request that must answer 200 with `expected`; its seconds.
fn timed(port: u16, path: &str, expected: &str) -> Result<f64> {
    let start = Instant::now();
    let (status, body) = http::request(port, "GET", path, &[])?;
    let seconds = start.elapsed().as_secs_f64();
    let body = String::from_utf8_lossy(&body);
    if status != 200 || body != expected {
        return Err(format!(
            "GET {path}: {status} {body:?}, expected 200 {expected:?}"
        ));
    }
    Ok(seconds)
}

/// A request of N gets minus one of the same loop without them, over N: the median of
/// [`GET_ROUNDS`] interleaved pairs.
fn get_rows(app: &App, direct_get_us: Option<f64>) -> Result<Vec<Row>> {
    let running = app.start("get")?;
    let port = running.port;
    let set = http::request(port, "POST", "/set?key=key", &[7; VALUE_BYTES])?;
    if set != (200, b"ok".to_vec()) {
        return Err(format!("POST /set answered {set:?}"));
    }
    let n = GETS.to_string();
    let get = format!("/get-loop?n={GETS}&key=key");
    let noop = format!("/noop-loop?n={GETS}&key=key");
    // Warm: the first requests fill caches and grow the instance pool.
    timed(port, &get, &n)?;
    timed(port, &noop, &n)?;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..GET_ROUNDS {
        with.push(timed(port, &get, &n)?);
        without.push(timed(port, &noop, &n)?);
    }
    let (with, without) = (serve::median(&mut with), serve::median(&mut without));
    eprintln!(
        "serve: {GETS} gets {:.1} ms, the same loop without them {:.1} ms (medians of {GET_ROUNDS})",
        with * 1e3,
        without * 1e3
    );
    let guest_us = (with - without) * 1e6 / GETS as f64;
    let mut rows = vec![Row::new(
        "serve: guest get, 100-byte value (kv-bench, its loop subtracted)",
        guest_us,
        "us/op",
    )];
    if let Some(direct) = direct_get_us {
        rows.push(
            Row::new(
                "serve: guest get over the direct Kv::get",
                guest_us - direct,
                "us/op",
            )
            .with_target(Target::AtMost(2.0)),
        );
    }
    Ok(rows)
}

/// Durable sets through `serve` at `connections`: acknowledged writes per second and the
/// server's CPU per write; then fsyncs per acknowledged write counted by strace, in a run
/// with it on the store's writer thread alone and in one with it on every thread (`-f`,
/// which stops every syscall of the server, so the server runs slower there).
fn set_rows(app: &App, connections: u32) -> Result<Vec<Row>> {
    let running = app.start(&format!("set-{connections}"))?;
    let script = app.tmp.join("set.lua");
    std::fs::write(&script, include_str!("set.lua"))
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let wrk = |seconds| Wrk {
        threads: connections.min(2),
        connections,
        seconds,
        path: "/set",
        script: Some(&script),
    };
    wrk(1).run(running.port)?;
    let cpu_before = serve::cpu_seconds(running.pid())?;
    let plain = Acked::of(&wrk(SET_SECONDS).run(running.port)?)?;
    let cpu = serve::cpu_seconds(running.pid())? - cpu_before;
    // Every fsync is the store's writer thread's: traced alone, the request path runs
    // at full speed; traced with all threads (`-f`), every syscall of the server stops.
    let writer = writer_thread(running.pid())?;
    let (alone, alone_fsyncs) = traced(&wrk(SET_SECONDS), &running, &[writer], app, "writer")?;
    let (all, all_fsyncs) = traced(&wrk(SET_SECONDS), &running, &[], app, "all")?;
    eprintln!(
        "serve, {connections} connections: {:.0} acknowledged writes/s; strace on the writer \
         thread {:.0}/s, {} writes, {alone_fsyncs} fsyncs; strace -f {:.0}/s, {} writes, \
         {all_fsyncs} fsyncs",
        plain.rate, alone.rate, alone.writes, all.rate, all.writes
    );
    let at_256 = |t| (connections == 256).then_some(t);
    let mut rate = Row::new(
        &format!("serve: durable set, {connections} connections"),
        plain.rate,
        "writes/s",
    );
    rate.target = at_256(Target::AtLeast(10_000.0));
    let per_write = |how: &str, fsyncs: u64, acked: &Acked| {
        let mut row = Row::new(
            &format!("serve: fsyncs per acknowledged write ({how}), {connections} connections"),
            fsyncs as f64 / acked.writes.max(1) as f64,
            "fsyncs/write",
        );
        row.target = at_256(Target::AtMost(0.05));
        row
    };
    let alone = per_write("strace on the writer thread", alone_fsyncs, &alone);
    let all_threads = per_write("strace -f, every thread slowed", all_fsyncs, &all);
    let under_strace = Row::new(
        &format!("serve: durable set with strace -f attached, {connections} connections"),
        all.rate,
        "writes/s",
    );
    // What the host spends per write, whatever share of the cores it got.
    let cpu = Row::new(
        &format!("serve: server CPU per acknowledged write, {connections} connections"),
        cpu * 1e6 / plain.writes.max(1) as f64,
        "us/write",
    );
    Ok(vec![rate, cpu, alone, all_threads, under_strace])
}

/// A wrk run with strace counting fsyncs in `threads` of the server (all of them when
/// empty): what it got acknowledged, and the fsyncs.
fn traced(
    wrk: &Wrk<'_>,
    running: &Running,
    threads: &[u32],
    app: &App,
    name: &str,
) -> Result<(Acked, u64)> {
    let report = app.tmp.join(format!("strace-{name}.txt"));
    let strace = Strace::attach(running.pid(), threads, &report)?;
    let out = wrk.run(running.port);
    let summary = strace.finish()?;
    Ok((Acked::of(&out?)?, syncs(&summary)))
}

/// The thread of `pid` that commits the store (`wasmhub-kv-writer`).
fn writer_thread(pid: u32) -> Result<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| e.to_string())?;
    tasks
        .flatten()
        .find(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim() == "wasmhub-kv-writ")
        })
        .and_then(|t| t.file_name().to_str()?.parse().ok())
        .ok_or_else(|| format!("server {pid} has no wasmhub-kv-writer thread"))
}

/// What one wrk run of `set.lua` got acknowledged.
struct Acked {
    /// 200 responses.
    writes: u64,
    /// 200 responses per second.
    rate: f64,
}

impl Acked {
    fn of(out: &str) -> Result<Self> {
        let mut writes = None;
        let mut seconds = None;
        for line in out.lines() {
            match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["acknowledged", n] => writes = n.parse::<u64>().ok(),
                [_, "requests", "in", s, ..] => {
                    seconds = s
                        .trim_end_matches(',')
                        .trim_end_matches('s')
                        .parse::<f64>()
                        .ok()
                }
                _ => {}
            }
        }
        match (writes, seconds) {
            (Some(writes), Some(s)) if s > 0.0 => Ok(Self {
                writes,
                rate: writes as f64 / s,
            }),
            _ => Err(format!(
                "no acknowledged count or duration in wrk's report:\n{out}"
            )),
        }
    }
}

/// `strace -f -c` counting the fsyncs of a running process until [`Strace::finish`].
struct Strace {
    child: Child,
    report: PathBuf,
}

impl Strace {
    /// Attaches to `threads` of `pid` (every thread, and those it starts, when empty);
    /// returns once they are traced.
    fn attach(pid: u32, threads: &[u32], report: &Path) -> Result<Self> {
        let mut cmd = Command::new("strace");
        cmd.args(["-c", "-e", "trace=fsync,fdatasync", "-o"])
            .arg(report);
        if threads.is_empty() {
            cmd.args(["-f", "-p", &pid.to_string()]);
        }
        for t in threads {
            cmd.args(["-p", &t.to_string()]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start strace (cargo xtask setup installs it): {e}"))?;
        let strace = Self {
            child,
            report: report.to_owned(),
        };
        let until = Instant::now() + Duration::from_secs(30);
        while !traced_threads(pid, threads) {
            if Instant::now() > until {
                return Err(format!("strace did not attach to {pid} in 30 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(strace)
    }

    /// Detaches (SIGINT) and returns the `-c` summary.
    fn finish(mut self) -> Result<String> {
        util::run_quiet(Command::new("kill").args(["-INT", &self.child.id().to_string()]))?;
        let status = self.child.wait().map_err(|e| e.to_string())?;
        let summary = std::fs::read_to_string(&self.report)
            .map_err(|e| format!("cannot read {}: {e}", self.report.display()))?;
        if !status.success() && summary.is_empty() {
            return Err(format!("strace failed with {status}"));
        }
        Ok(summary)
    }
}

impl Drop for Strace {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `threads` of `pid` (every one when empty) have a tracer.
fn traced_threads(pid: u32, threads: &[u32]) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks
        .flatten()
        .filter(|task| {
            threads.is_empty()
                || task
                    .file_name()
                    .to_str()
                    .and_then(|t| t.parse::<u32>().ok())
                    .is_some_and(|t| threads.contains(&t))
        })
        .all(|task| {
            std::fs::read_to_string(task.path().join("status")).is_ok_and(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("TracerPid:"))
                    .is_some_and(|t| t.trim() != "0")
            })
        })
}
