//! `cargo xtask bench chaos`: wrk on a healthy route of one server while hostile clients
//! attack it (loops, memory growth, traps, huge headers, slowloris heads and bodies, idle
//! connections), against clean runs of the same server in the same invocation; then
//! enough load for a million requests, with the server's RSS before and after.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::hostile::{self, Attack, Outcomes};
use super::serve::{self, ROUNDS};
use crate::util::{self, Result};
use crate::{guests, setup};

/// Healthy requests in the soak, between the two RSS readings.
const SOAK_REQUESTS: u64 = 1_000_000;

/// The app under attack: a healthy route and the routes the attackers use, each with the
/// budget and instance limit an operator would give untrusted code.
const MANIFEST: &str = r#"[app]
name = "chaos"

[component.hello]
source = "HELLO"
route = "/hello"

[component.bad]
source = "BAD"
route = "/bad/..."

[component.bad.budget]
deadline = "100ms"
memory = "64MiB"
instances = 16

[component.echo]
source = "ECHO"
route = "/echo"

[component.echo.budget]
deadline = "1s"
instances = 16
"#;

/// One wrk run on the healthy route.
#[derive(Default, Clone, Copy)]
struct Healthy {
    requests: u64,
    failed: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Healthy {
    fn success(&self) -> f64 {
        100.0 * (self.requests - self.failed.min(self.requests)) as f64
            / self.requests.max(1) as f64
    }
}

/// Runs clean and attacked rounds, the soak, and prints the table.
pub fn run() -> Result {
    setup::setup()?;
    setup::apt(&[("wrk", "wrk")])?;
    guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub"])?;
    let target = util::target_dir();
    let dir = target.join("bench-chaos");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let guest = |name: &str| target.join("guests").join(name).display().to_string();
    let manifest = dir.join("wasmhub.toml");
    let text = MANIFEST
        .replace("HELLO", &guest("hello-http.wasm"))
        .replace("BAD", &guest("misbehave-http.wasm"))
        .replace("ECHO", &guest("echo-http.wasm"));
    std::fs::write(&manifest, text).map_err(|e| e.to_string())?;

    let port = serve::free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut server = Command::new(target.join("debug/wasmhub"))
        .args([
            "serve",
            "--addr",
            &addr.to_string(),
            "--header-timeout",
            "2s",
        ])
        .arg("--cache-dir")
        .arg(target.join("bench-cache"))
        .arg(&manifest)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start wasmhub serve: {e}"))?;
    let result = attack_and_measure(&mut server, addr);
    let _ = server.kill();
    let _ = server.wait();
    result
}

fn attack_and_measure(server: &mut Child, addr: SocketAddr) -> Result {
    serve::wait_ready_at(addr.port(), "/hello", Duration::from_secs(120))?;
    wrk(addr, 5)?;
    let rss_start = rss_kib(server.id())?;
    let mut clean = Vec::new();
    let mut attacked = Vec::new();
    let mut outcomes = Outcomes::new();
    for round in 1..=ROUNDS {
        let c = wrk(addr, 10)?;
        eprintln!("round {round}: clean    {}", line(&c));
        let attack = Attack::start(addr);
        std::thread::sleep(Duration::from_secs(1));
        let a = wrk(addr, 10)?;
        merge(&mut outcomes, attack.stop());
        let rss = rss_kib(server.id())? / 1024;
        eprintln!("round {round}: attacked {}  RSS {rss} MiB", line(&a));
        clean.push(c);
        attacked.push(a);
    }
    // Every attack has now been seen: from here, a million more requests under attack must
    // not grow the RSS (a leak would).
    let rss_before = rss_kib(server.id())?;
    let soak_started = Instant::now();
    let attack = Attack::start(addr);
    let mut soak = Healthy::default();
    while soak.requests < SOAK_REQUESTS {
        let s = wrk(addr, 20)?;
        soak.requests += s.requests;
        soak.failed += s.failed;
        let rss = rss_kib(server.id())? / 1024;
        eprintln!("soak: {}  RSS {rss} MiB", line(&s));
    }
    let soak_outcomes = attack.stop();
    let soak_attacks = attack_count(&soak_outcomes);
    merge(&mut outcomes, soak_outcomes);
    let soak_secs = soak_started.elapsed().as_secs_f64();
    let rss_after = rss_kib(server.id())?;
    let alive = server.try_wait().map_err(|e| e.to_string())?.is_none();
    let answers = serve::wait_ready_at(addr.port(), "/hello", Duration::from_secs(5)).is_ok();

    let (c, a) = (median(&clean), median(&attacked));
    println!(
        "\nwrk -t2 -c50 -d10s --latency on /hello (hello-http), medians of {ROUNDS} rounds \
         (success over all their requests); attacked = while the clients below run"
    );
    println!("| run | req/s | success % | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|");
    for (name, h) in [("clean", c), ("attacked", a)] {
        println!(
            "| {name} | {:.0} | {:.3} | {:.2} | {:.2} |",
            h.rps,
            h.success(),
            h.p50_ms,
            h.p99_ms
        );
    }
    println!(
        "\nsoak under attack: {} healthy requests in {soak_secs:.0} s, success {:.3} %",
        soak.requests,
        soak.success()
    );
    println!("\n| attack | outcome | attempts | mean s |\n|---|---|---:|---:|");
    for ((kind, outcome), t) in &outcomes {
        println!(
            "| {kind} | {outcome} | {} | {:.2} |",
            t.count,
            t.seconds / t.count.max(1) as f64
        );
    }
    let growth = 100.0 * (rss_after as f64 - rss_before as f64) / rss_before as f64;
    println!(
        "\nRSS: {} MiB after the clean warm-up, {} MiB once every attack had been seen, {} MiB \
         after {} more requests under attack ({growth:+.1} %, target < 10 %)",
        rss_start / 1024,
        rss_before / 1024,
        rss_after / 1024,
        soak.requests + soak_attacks
    );
    let worst_success = clean.iter().chain(&attacked).map(Healthy::success);
    let worst_success = worst_success.fold(soak.success(), f64::min);
    println!(
        "healthy success: {worst_success:.3} % at worst (target 100 %); attacked / clean p99: \
         {:.2}x (target <= 2x); server alive: {} (target yes)",
        a.p99_ms / c.p99_ms,
        if alive && answers { "yes" } else { "NO" }
    );
    if !alive || !answers {
        return Err("the server did not survive the attack".into());
    }
    Ok(())
}

fn merge(all: &mut Outcomes, more: Outcomes) {
    for (k, t) in more {
        let e = all.entry(k).or_default();
        e.count += t.count;
        e.seconds += t.seconds;
    }
}

/// Requests the attackers sent (idle connections are not requests).
fn attack_count(outcomes: &Outcomes) -> u64 {
    outcomes
        .iter()
        .filter(|((kind, _), _)| *kind != hostile::IDLE_KIND)
        .map(|(_, t)| t.count)
        .sum()
}

fn line(h: &Healthy) -> String {
    format!(
        "{:>8.0} req/s  success {:.3} %  p50 {:.2} ms  p99 {:.2} ms",
        h.rps,
        h.success(),
        h.p50_ms,
        h.p99_ms
    )
}

/// Medians of the rates and latencies; requests and failures summed over all rounds, so the
/// success rate counts every request.
fn median(runs: &[Healthy]) -> Healthy {
    let pick = |f: fn(&Healthy) -> f64| serve::median(&mut runs.iter().map(f).collect::<Vec<_>>());
    Healthy {
        requests: runs.iter().map(|h| h.requests).sum(),
        failed: runs.iter().map(|h| h.failed).sum(),
        rps: pick(|h| h.rps),
        p50_ms: pick(|h| h.p50_ms),
        p99_ms: pick(|h| h.p99_ms),
    }
}

/// wrk on the healthy route for `seconds`: requests, failures (non-2xx, socket errors), latency.
fn wrk(addr: SocketAddr, seconds: u64) -> Result<Healthy> {
    let out = util::output(
        Command::new("wrk")
            .args(["-t2", "-c50", &format!("-d{seconds}s"), "--latency"])
            .arg(format!("http://{addr}/hello")),
    )
    .ok_or("wrk failed")?;
    let sample = serve::parse_wrk(&out, 0.0)?;
    let mut h = Healthy {
        rps: sample.rps,
        p50_ms: sample.p50_ms,
        p99_ms: sample.p99_ms,
        ..Healthy::default()
    };
    for l in out.lines() {
        let words: Vec<&str> = l.split_whitespace().collect();
        match words.as_slice() {
            [n, "requests", "in", ..] => h.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => h.failed += n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                h.failed += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    Ok(h)
}

/// Resident set size of `pid`, KiB.
fn rss_kib(pid: u32) -> Result<u64> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| "no VmRSS in /proc/PID/status".into())
}
