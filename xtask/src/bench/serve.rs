//! `cargo xtask bench serve`: wrk against `wasmhub serve` (the plain Rust hello; and, from
//! `spin.rs`, the plain hello on WASI 0.3 and a Spin-SDK hello from a spin.toml), raw hyper
//! and (with peers) `wasmtime serve`, interleaved rounds, plus cold start to the first 200.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{self, Result};

pub(super) use super::sample::{ProcStat, Sample, cpu_seconds, median, median_sample, parse_wrk};
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
    /// Where its stderr (wasmhub's access log) goes.
    pub log: LogTo,
}

/// Where a server under load writes its log.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum LogTo {
    /// A file in `target/bench-logs/`, as a production server would.
    File,
    /// /dev/null: the baseline that shows what logging costs.
    Null,
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
            log: LogTo::File,
            cmd: Box::new(move |port| {
                let mut c = Command::new(&hyper);
                c.arg(port.to_string());
                c
            }),
        },
        wasmhub_server("wasmhub serve", &wasmhub, &cache, &[], &hello),
        Server {
            log: LogTo::Null,
            ..wasmhub_server("wasmhub, log to /dev/null", &wasmhub, &cache, &[], &hello)
        },
    ];
    servers.extend(super::spin::servers(&target, &wasmhub, &cache)?);
    if let Some(wasmtime) = wasmtime_cli(with_peers)? {
        let hello = hello.clone();
        servers.push(Server {
            name: "wasmtime serve",
            log: LogTo::File,
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
        "
wrk -t2 -c50 -d10s --latency, hello-world (12-byte body; the spin-sdk hello's is 19), medians of {ROUNDS} interleaved rounds; \
         logs to a file in target/bench-logs/ unless the row says /dev/null"
    );
    println!(
        "| server | req/s | p50 ms | p99 ms | CPU us/req | user us | kernel us | faults/req | cold start ms (median of {COLD_STARTS}) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let medians: Vec<Sample> = samples.iter().map(|s| median_sample(s)).collect();
    for ((server, m), cold) in servers.iter().zip(&medians).zip(&colds) {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.0} | {:.0} | {:.2} | {:.1} |",
            server.name,
            m.rps,
            m.p50_ms,
            m.p99_ms,
            m.cpu_us_per_req,
            m.user_us_per_req,
            m.sys_us_per_req,
            m.faults_per_req,
            cold
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
            "wasmhub / hyper cold start: {:.2}x (target <= 1.3x; <= 2x for #26)",
            colds[w] / colds[h]
        );
        println!(
            "wasmhub CPU per request: {:.0} us (target <= 45 us)",
            medians[w].cpu_us_per_req
        );
        if let Some(n) = find("wasmhub, log to /dev/null") {
            println!(
                "wasmhub logging to a file / to /dev/null: {:.3}x (target >= 0.95x)",
                medians[w].rps / medians[n].rps
            );
        }
        if let Some(t) = find("wasmtime serve") {
            println!(
                "wasmhub / wasmtime serve throughput: {:.2}x (target >= 3.5x; 4x before)",
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
        log: LogTo::File,
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
    let log = match server.log {
        LogTo::Null => Stdio::null(),
        LogTo::File => {
            let dir = util::target_dir().join("bench-logs");
            let slug: String = server
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::File::create(dir.join(format!("{slug}.log"))))
                .map_err(|e| format!("cannot make a log file for {}: {e}", server.name))?
                .into()
        }
    };
    (server.cmd)(port)
        // Every server runs as a production host would: no native backtrace capture.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
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
    // With the server's worker processes (isolation = "process"), if it has any.
    let before = ProcStat::of_tree(running.pid())?;
    let wrk = Wrk {
        threads: 2,
        connections: 50,
        seconds: 10,
        path: "/",
        script: None,
    };
    let out = wrk.run(running.port)?;
    let after = ProcStat::of_tree(running.pid())?;
    let mut s = parse_wrk(&out, after.cpu() - before.cpu())?;
    let per_req = s.cpu_us_per_req / (after.cpu() - before.cpu()).max(1e-9) / 1e6;
    s.user_us_per_req = (after.user - before.user) * 1e6 * per_req;
    s.sys_us_per_req = (after.sys - before.sys) * 1e6 * per_req;
    s.faults_per_req = (after.faults - before.faults) * per_req;
    Ok(s)
}

/// Median time from spawn to the first 200 on `/`, over [`COLD_STARTS`] starts.
pub(super) fn cold_start(server: &Server) -> Result<f64> {
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
