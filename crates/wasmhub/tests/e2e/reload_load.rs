//! Reload under load (issue 23): clients on kept-alive and on new connections, and slow
//! streaming requests, run through 100 reloads without a failure or a stale answer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use test_programs_artifacts::HELLO_HTTP;

use super::harness::{Hub, g};
use super::reload::{Slow, app, find, metrics, names, reload, reload_ok, start};
use super::server::{Resp, manifest, parse};

/// One `GET /v/x`: on `conn` (kept alive, opened when `None`) or on a new connection that
/// the server closes; the answer, or what went wrong.
fn get_version(addr: SocketAddr, conn: Option<&mut Option<TcpStream>>) -> Result<Resp, String> {
    let keep = conn.is_some();
    let mut fresh = None;
    let slot = conn.unwrap_or(&mut fresh);
    if slot.is_none() {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        *slot = Some(s);
    }
    let s = slot.as_mut().unwrap();
    let head = if keep {
        "GET /v/x HTTP/1.1\r\nhost: x\r\n\r\n"
    } else {
        "GET /v/x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    };
    let result = exchange(s, head.as_bytes(), keep);
    if result.is_err() || !keep {
        *slot = None;
    }
    result
}

/// Writes `head` and reads one response: to its end on a kept-alive connection (its
/// length or its last chunk), else until the server closes.
fn exchange(s: &mut TcpStream, head: &[u8], keep: bool) -> Result<Resp, String> {
    s.write_all(head).map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if keep && let Some(end) = find(&raw, b"\r\n\r\n") {
            let resp = parse(&raw);
            let length = resp.header("content-length").and_then(|n| n.parse().ok());
            let done = match length {
                Some(n) => raw.len() - end - 4 >= n,
                None => resp.complete,
            };
            if done {
                return Ok(resp);
            }
        }
        match s.read(&mut buf) {
            Ok(0) if !keep && !raw.is_empty() => return Ok(parse(&raw)),
            Ok(0) => return Err(format!("closed: {:?}", String::from_utf8_lossy(&raw))),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}: {:?}", String::from_utf8_lossy(&raw))),
        }
    }
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Stops the load when dropped, so a failed assertion never leaves clients running.
struct Stop(Arc<AtomicBool>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The "reload under load": 32 clients (16 on kept-alive connections, 16 on a new
/// connection per request) and 4 slow streaming requests at a time run through 100
/// reloads, every 10th one bad. Each good reload sets VERSION to the generation it makes,
/// so an answer names the generation it ran in: none may be older than the last reload
/// acknowledged before its request was sent. Slow requests span several reloads and end on
/// the version they started with. Every replaced generation is freed, and the resident
/// memory ends within 64 MiB or half again of what it was under load before the reloads.
#[test]
fn reload_under_load() {
    let hub = Hub::new();
    let hello = g(HELLO_HTTP);
    let s = start(&hub, &app("1", hello, ""), &[]);
    let addr = s.addr;
    let acked = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let _stop = Stop(stop.clone());
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let answered = Arc::new(AtomicU64::new(0));
    let slow_done = Arc::new(AtomicU64::new(0));
    let fail = |failures: &Mutex<Vec<String>>, what: String| {
        let mut f = failures.lock().unwrap();
        if f.len() < 20 {
            f.push(what);
        } else {
            f.push(String::new());
        }
    };
    let mut clients = Vec::new();
    for i in 0..32 {
        let (acked, stop, failures, answered) = (
            acked.clone(),
            stop.clone(),
            failures.clone(),
            answered.clone(),
        );
        clients.push(std::thread::spawn(move || {
            let mut conn = None;
            while !stop.load(Ordering::SeqCst) {
                let floor = acked.load(Ordering::SeqCst);
                let result = if i % 2 == 0 {
                    get_version(addr, Some(&mut conn))
                } else {
                    // Leave the CPU to the others now and then (2 cores, shared).
                    std::thread::sleep(Duration::from_millis(2));
                    get_version(addr, None)
                };
                match result {
                    Ok(r) if r.status == 200 && r.complete => {
                        let v: u64 = r.text().parse().unwrap_or(0);
                        if v < floor {
                            fail(
                                &failures,
                                format!("generation {v} answered after {floor} was acknowledged"),
                            );
                        }
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => fail(&failures, format!("{} {:?}", r.status, r.text())),
                    Err(e) => fail(&failures, e),
                }
            }
        }));
    }
    for _ in 0..4 {
        let (acked, stop, failures, slow_done) = (
            acked.clone(),
            stop.clone(),
            failures.clone(),
            slow_done.clone(),
        );
        clients.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let floor = acked.load(Ordering::SeqCst);
                let mut slow = match Slow::start(addr) {
                    Ok(slow) => slow,
                    Err(e) => {
                        fail(&failures, format!("slow: {e}"));
                        continue;
                    }
                };
                let started = slow.started();
                if started.parse::<u64>().is_ok_and(|v| v < floor)
                    || started.parse::<u64>().is_err()
                {
                    fail(
                        &failures,
                        format!("slow started on {started} after {floor} was acknowledged"),
                    );
                }
                // Live through three more reloads (or to the end of the run).
                let until = Instant::now() + Duration::from_secs(30);
                while acked.load(Ordering::SeqCst) < floor + 3
                    && !stop.load(Ordering::SeqCst)
                    && Instant::now() < until
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let resp = slow.finish();
                let want = format!("start {started}\nend {started}\n");
                if resp.status != 200 || !resp.complete || resp.text() != want {
                    fail(
                        &failures,
                        format!("slow: {} {:?}, wanted {want:?}", resp.status, resp.text()),
                    );
                } else {
                    slow_done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Warm up under load (instance slots, connections), then take the memory baseline.
    let warm = Instant::now() + Duration::from_secs(2);
    while Instant::now() < warm || answered.load(Ordering::Relaxed) < 200 {
        assert!(
            warm.elapsed() < Duration::from_secs(60),
            "no answers under load"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = s.child.id();
    let rss_start = rss_kib(pid);

    let started = Instant::now();
    let mut generation = 1;
    let missing = hub.tmp.path().join("missing.wasm").display().to_string();
    let bad = [
        "[app\nname = ".to_owned(),
        app("x", &missing, ""),
        app(
            "x",
            hello,
            "\n[component.hello.link]\n\"acme:pricing/calc\" = \"version\"\n",
        ),
        app("x", hello, "").replace(
            "route = \"/hello\"\n",
            "route = \"/hello\"\nwasi = \"0.3\"\n",
        ),
    ];
    for k in 1..=100 {
        if k % 10 == 0 {
            manifest(&hub, &bad[(k / 10) % bad.len()]);
            let r = reload(&s);
            assert_eq!(r.status, 422, "bad reload {k} accepted: {}", r.text());
            continue;
        }
        let next = generation + 1;
        manifest(&hub, &app(&next.to_string(), hello, ""));
        let answer = reload_ok(&s);
        assert_eq!(answer["generation"], next, "{answer}");
        assert_eq!(names(&answer, "changed"), ["version"], "{answer}");
        acked.store(next, Ordering::SeqCst);
        generation = next;
        // Let requests run in this generation before the next reload.
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("a client panicked");
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed or stale requests of {}, first: {:#?}",
        failures.len(),
        answered.load(Ordering::Relaxed),
        &failures[..failures.len().min(20)]
    );
    assert!(
        slow_done.load(Ordering::Relaxed) >= 4,
        "too few slow requests completed"
    );
    assert_eq!(generation, 91);
    // Every replaced generation is freed once its last request has ended.
    let log = s.wait_log(&format!("generation {} freed", generation - 1));
    for n in 1..generation {
        assert!(
            log.contains(&format!("generation {n} freed\n")),
            "generation {n} not freed"
        );
    }
    assert!(!log.contains(&format!("generation {generation} freed")));
    let rss_end = rss_kib(pid);
    let slack = (rss_start / 2).max(64 << 10);
    assert!(
        rss_end <= rss_start + slack,
        "resident memory grew from {rss_start} KiB to {rss_end} KiB over 90 reloads"
    );
    let m = metrics(&s);
    assert!(
        m.contains("wasmhub_reloads_total{outcome=\"ok\"} 90\n"),
        "{m}"
    );
    assert!(
        m.contains("wasmhub_reloads_total{outcome=\"failed\"} 10\n"),
        "{m}"
    );
    eprintln!(
        "reload under load: 100 reloads in {took:?}, {} answers, {} slow requests, \
         rss {rss_start} -> {rss_end} KiB",
        answered.load(Ordering::Relaxed),
        slow_done.load(Ordering::Relaxed)
    );
}
