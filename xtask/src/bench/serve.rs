//! `cargo xtask bench serve`: wrk against `wasmhub serve` (the plain Rust hello; and, from
//! `spin.rs`, the plain hello on WASI 0.3 and a Spin-SDK hello from a spin.toml), raw hyper
//! and (with peers) `wasmtime serve`, interleaved rounds, plus cold start to the first 200.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{self, Result};
use crate::{guests, setup};

/// Interleaved wrk rounds per server.
pub(super) const ROUNDS: usize = 3;
const COLD_STARTS: usize = 10;

/// The `wasmtime` 48.0.8 CLI: on PATH, in target/peers, or installed there with `with_peers`.
pub fn wasmtime_cli(with_peers: bool) -> Result<Option<PathBuf>> {
    let local = util::target_dir().join("peers/bin/wasmtime");
    if local.exists() {
        return Ok(Some(local));
    }
    if util::output(Command::new("wasmtime").arg("--version")).is_some_and(|v| v.contains(" 48.")) {
        return Ok(Some(PathBuf::from("wasmtime")));
    }
    if !with_peers {
        return Ok(None);
    }
    util::run(
        Command::new(util::cargo_bin())
            .args(["install", "--locked", "wasmtime-cli@48.0.8", "--root"])
            .arg(util::target_dir().join("peers"))
            .env("CARGO_TARGET_DIR", util::target_dir().join("peers-build")),
    )?;
    Ok(Some(local))
}

/// A server under load: its name and how to start it on a port.
pub(super) struct Server {
    pub name: &'static str,
    pub cmd: Box<dyn Fn(u16) -> Command>,
}

/// One wrk run's figures.
#[derive(Default, Clone)]
pub(super) struct Sample {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_us_per_req: f64,
}

/// Runs the benchmark and prints the table and ratios.
pub fn run(with_peers: bool) -> Result {
    setup::setup()?;
    setup::apt(&[("wrk", "wrk")])?;
    guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub", "-p", "hyper-hello"])?;
    let target = util::target_dir();
    let hello = target.join("guests/hello-http.wasm");
    let cache = target.join("bench-cache");
    let wasmhub = target.join("debug/wasmhub");
    let hyper = target.join("debug/hyper-hello");
    let mut servers = vec![
        Server {
            name: "hyper (raw)",
            cmd: Box::new(move |port| {
                let mut c = Command::new(&hyper);
                c.arg(port.to_string());
                c
            }),
        },
        wasmhub_server("wasmhub serve", &wasmhub, &cache, &[], &hello),
    ];
    servers.extend(super::spin::servers(&target, &wasmhub, &cache)?);
    if let Some(wasmtime) = wasmtime_cli(with_peers)? {
        let hello = hello.clone();
        servers.push(Server {
            name: "wasmtime serve",
            cmd: Box::new(move |port| {
                let mut c = Command::new(&wasmtime);
                c.args(["serve", "-Scli", "--addr", &format!("127.0.0.1:{port}")])
                    .arg(&hello);
                c
            }),
        });
    } else {
        eprintln!(
            "(no wasmtime 48: `cargo xtask bench serve --with-peers` installs it into target/peers)"
        );
    }

    let samples = rounds(&servers)?;
    let mut colds = Vec::new();
    for server in &servers {
        colds.push(cold_start(server)?);
    }

    println!(
        "\nwrk -t2 -c50 -d10s --latency, hello-world (12-byte body; the spin-sdk hello's is 19), medians of {ROUNDS} interleaved rounds"
    );
    println!(
        "| server | req/s | p50 ms | p99 ms | CPU us/req | cold start ms (median of {COLD_STARTS}) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let medians: Vec<Sample> = samples.iter().map(|s| median_sample(s)).collect();
    for ((server, m), cold) in servers.iter().zip(&medians).zip(&colds) {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.1} |",
            server.name, m.rps, m.p50_ms, m.p99_ms, m.cpu_us_per_req, cold
        );
    }
    let find = |name: &str| servers.iter().position(|s| s.name == name);
    if let (Some(w), Some(h)) = (find("wasmhub serve"), find("hyper (raw)")) {
        println!(
            "\nwasmhub / hyper throughput: {:.2}x (target >= 0.40x)",
            medians[w].rps / medians[h].rps
        );
        println!("wasmhub p99: {:.2} ms (target <= 3 ms)", medians[w].p99_ms);
        println!(
            "wasmhub / hyper cold start: {:.2}x (target <= 1.3x)",
            colds[w] / colds[h]
        );
        if let Some(t) = find("wasmtime serve") {
            println!(
                "wasmhub / wasmtime serve throughput: {:.2}x (target >= 4x)",
                medians[w].rps / medians[t].rps
            );
        }
    }
    super::spin::print_overhead(&servers, &medians, &colds);
    Ok(())
}

/// Loads every server in turn, [`ROUNDS`] times (interleaved, so drift hits all alike);
/// each server's samples in order.
pub(super) fn rounds(servers: &[Server]) -> Result<Vec<Vec<Sample>>> {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); servers.len()];
    for round in 1..=ROUNDS {
        for (i, server) in servers.iter().enumerate() {
            let s = load(server)?;
            eprintln!(
                "round {round}: {:<15} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  {:.0} us CPU/req",
                server.name, s.rps, s.p50_ms, s.p99_ms, s.cpu_us_per_req
            );
            samples[i].push(s);
        }
    }
    Ok(samples)
}

/// `wasmhub serve` of `component` with `flags` (grants, `--wasi`), compiled code cached in `cache`.
pub(super) fn wasmhub_server(
    name: &'static str,
    bin: &std::path::Path,
    cache: &std::path::Path,
    flags: &[&str],
    component: &std::path::Path,
) -> Server {
    let (bin, cache, component) = (bin.to_owned(), cache.to_owned(), component.to_owned());
    let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    Server {
        name,
        cmd: Box::new(move |port| {
            let mut c = Command::new(&bin);
            c.args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--cache-dir",
            ])
            .arg(&cache)
            .args(&flags)
            .arg(&component);
            c
        }),
    }
}

pub(super) fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn spawn(server: &Server, port: u16) -> Result<Child> {
    (server.cmd)(port)
        // Every server runs as a production host would: no native backtrace capture.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", server.name))
}

/// Polls until `GET /` answers 200; returns how long that took.
fn wait_ready(port: u16, start: Instant, limit: Duration) -> Result<Duration> {
    wait_ready_from(port, "/", start, limit)
}

/// Polls until `GET path` answers 200, for at most `limit`.
pub(super) fn wait_ready_at(port: u16, path: &str, limit: Duration) -> Result<Duration> {
    wait_ready_from(port, path, Instant::now(), limit)
}

fn wait_ready_from(port: u16, path: &str, start: Instant, limit: Duration) -> Result<Duration> {
    while start.elapsed() < limit {
        if get_ok(port, path) {
            return Ok(start.elapsed());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Err(format!(
        "no 200 from {path} on port {port} within {limit:?}"
    ))
}

fn get_ok(port: u16, path: &str) -> bool {
    super::http::request(port, "GET", path, &[]).is_ok_and(|(status, _)| status == 200)
}

/// A started server, answering 200 at its ready path; killed when dropped.
pub(super) struct Running {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Running {
    /// Starts `server` on a free port and waits (up to 120 s) for a 200 from `ready_path`.
    pub fn start(server: &Server, ready_path: &str) -> Result<Self> {
        let port = free_port()?;
        let running = Self {
            child: spawn(server, port)?,
            port,
        };
        wait_ready_at(port, ready_path, Duration::from_secs(120))?;
        Ok(running)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A wrk run: `threads` threads, `connections` connections, `seconds` long, on `path`,
/// optionally with a Lua `script`.
pub(super) struct Wrk<'a> {
    pub threads: u32,
    pub connections: u32,
    pub seconds: u32,
    pub path: &'a str,
    pub script: Option<&'a std::path::Path>,
}

impl Wrk<'_> {
    /// Runs wrk (with `--latency`) against `port`; its report.
    pub fn run(&self, port: u16) -> Result<String> {
        let mut cmd = Command::new("wrk");
        cmd.args([
            format!("-t{}", self.threads),
            format!("-c{}", self.connections),
            format!("-d{}s", self.seconds),
            "--latency".into(),
        ]);
        if let Some(script) = self.script {
            cmd.arg("-s").arg(script);
        }
        cmd.arg(format!("http://127.0.0.1:{port}{}", self.path));
        util::output(&mut cmd).ok_or_else(|| "wrk failed".into())
    }
}

/// Starts `server`, waits for its first 200, runs wrk against it and stops it.
pub(super) fn load(server: &Server) -> Result<Sample> {
    let running = Running::start(server, "/")?;
    let cpu_before = cpu_seconds(running.pid())?;
    let wrk = Wrk {
        threads: 2,
        connections: 50,
        seconds: 10,
        path: "/",
        script: None,
    };
    let out = wrk.run(running.port)?;
    let cpu = cpu_seconds(running.pid())? - cpu_before;
    parse_wrk(&out, cpu)
}

fn cold_start(server: &Server) -> Result<f64> {
    let mut times = Vec::new();
    for _ in 0..COLD_STARTS {
        let port = free_port()?;
        let start = Instant::now();
        let mut child = spawn(server, port)?;
        let t = wait_ready(port, start, Duration::from_secs(120));
        let _ = child.kill();
        let _ = child.wait();
        times.push(t?.as_secs_f64() * 1e3);
    }
    Ok(median(&mut times))
}

/// utime + stime of `pid`, in seconds.
pub(super) fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap_or(0) + 2..]
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    let hz = util::output(Command::new("getconf").arg("CLK_TCK"))
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Ok(ticks / hz)
}

pub(super) fn parse_wrk(out: &str, cpu_seconds: f64) -> Result<Sample> {
    let mut s = Sample::default();
    let mut requests = 0.0;
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => s.rps = n.parse().unwrap_or(0.0),
            ["50%", v] => s.p50_ms = ms(v),
            ["99%", v] => s.p99_ms = ms(v),
            [n, "requests", "in", ..] => requests = n.parse().unwrap_or(0.0),
            _ => {}
        }
    }
    if requests == 0.0 {
        return Err(format!("wrk reported no requests:\n{out}"));
    }
    s.cpu_us_per_req = cpu_seconds * 1e6 / requests;
    Ok(s)
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

/// The middle value of `v` (sorted in place).
pub(super) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Field-by-field medians of `samples`.
pub(super) fn median_sample(samples: &[Sample]) -> Sample {
    let pick = |f: fn(&Sample) -> f64| median(&mut samples.iter().map(f).collect::<Vec<_>>());
    Sample {
        rps: pick(|s| s.rps),
        p50_ms: pick(|s| s.p50_ms),
        p99_ms: pick(|s| s.p99_ms),
        cpu_us_per_req: pick(|s| s.cpu_us_per_req),
    }
}
