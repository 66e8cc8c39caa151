//! Crash safety of the durable store: 200 cycles of `serve` under increments and writes from
//! several clients, each ended by `kill -9` at a random moment (seeded: the seed is printed,
//! `KV_CRASH_SEED=N` replays it). After every restart the store opens, the counter is at
//! least the last value acknowledged and at most the number of increments attempted, and
//! the usage `wasmhub check` reports matches a recount of what the store holds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::harness::Hub;
use super::kv::{enc, list_all, one_store_app};
use super::server::{Served, parse};

const CYCLES: u32 = 200;
/// Every how many cycles the usage figures are checked against a recount.
const RECOUNT_EVERY: u32 = 25;

/// xorshift64*: a small seeded generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One request that may meet a dead server: the status and body, or `None` when the
/// connection failed or was cut.
fn try_request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: crash\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return None;
    }
    let r = parse(&raw);
    r.complete.then_some((r.status, r.body))
}

/// The counter `n` as the store holds it (0 when missing).
fn counter(s: &Served) -> i64 {
    let r = s.get("/kv/get?key=n");
    match r.status {
        404 => 0,
        200 => i64::from_le_bytes(r.body.as_slice().try_into().expect("an 8-byte counter")),
        other => panic!("reading the counter: {other} {}", r.text()),
    }
}

/// The keys and bytes (keys plus values) the store holds, counted through the guest.
fn recount(s: &Served) -> (u64, u64) {
    let (keys, _) = list_all(s, "/kv", "default");
    let bytes = keys
        .iter()
        .map(|k| {
            let r = s.get(&format!("/kv/get?key={}", enc(k)));
            assert_eq!(r.status, 200, "listed {k} but cannot read it");
            (k.len() + r.body.len()) as u64
        })
        .sum();
    (keys.len() as u64, bytes)
}

/// The keys and bytes `wasmhub check` reports for the store `default` (its line reads
/// `store "default": used by "kv"; holds 7 of 100000 keys, 345 B of 256 MiB; ...`: the
/// load keeps the store under 1 KiB, so the bytes are exact).
fn reported(hub: &Hub, app: &str) -> (u64, u64) {
    let r = hub.run(&["check", app]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("store \"default\""))
        .unwrap_or_else(|| panic!("no store \"default\" in:\n{}", r.stdout));
    let field = |after: &str, before: &str| -> u64 {
        let rest = &line[line
            .find(after)
            .unwrap_or_else(|| panic!("{after:?} in {line}"))
            + after.len()..];
        let end = rest
            .find(before)
            .unwrap_or_else(|| panic!("{before:?} in {line}"));
        rest[..end]
            .parse()
            .unwrap_or_else(|_| panic!("a number before {before:?} in {line}"))
    };
    (field("holds ", " of "), field("keys, ", " B of "))
}

/// Figures shared by the clients of one run.
#[derive(Default)]
struct Tally {
    /// Increments sent (counted before sending: an upper bound of what was applied).
    attempted: AtomicU64,
    /// The largest value an increment was acknowledged with.
    acked: AtomicI64,
}

/// Clients that increment `n` (three) and write or delete other keys (one) until `stop`.
fn load(
    addr: SocketAddr,
    tally: &Arc<Tally>,
    stop: &Arc<AtomicBool>,
    seed: u64,
) -> Vec<std::thread::JoinHandle<()>> {
    let incrementers = (0..3).map(|_| {
        let (tally, stop) = (tally.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                tally.attempted.fetch_add(1, Ordering::SeqCst);
                match try_request(addr, "GET", "/kv/incr?key=n", &[]) {
                    Some((200, body)) => {
                        let v: i64 = String::from_utf8(body).unwrap().parse().unwrap();
                        tally.acked.fetch_max(v, Ordering::SeqCst);
                    }
                    Some((status, body)) => {
                        panic!(
                            "increment answered {status}: {}",
                            String::from_utf8_lossy(&body)
                        )
                    }
                    None => return,
                }
            }
        })
    });
    let stop = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut rng = Rng(seed | 1);
        while !stop.load(Ordering::SeqCst) {
            // At most 10 keys of at most 61 bytes: the store stays under 1 KiB.
            let key = format!("k{}", rng.below(10));
            let sent = if rng.below(4) == 0 {
                try_request(addr, "GET", &format!("/kv/delete?key={key}"), &[])
            } else {
                let value = vec![b'v'; rng.below(60) as usize];
                try_request(addr, "POST", &format!("/kv/set?key={key}"), &value)
            };
            if sent.is_none() {
                return;
            }
        }
    });
    incrementers.chain([writer]).collect()
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_write() {
    let seed = std::env::var("KV_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("kv crash test: seed {seed} (replay with KV_CRASH_SEED={seed})");
    let mut rng = Rng(seed | 1);
    let hub = Hub::new();
    let app = one_store_app(&hub, "crash", r#""default""#);
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let mut recounts = 0;
    for cycle in 0..=CYCLES {
        // The usage figures of the store as the last kill left it, read while no server runs.
        let figures = (cycle % RECOUNT_EVERY == 0 || cycle == CYCLES).then(|| reported(&hub, &app));
        let mut s = Served::start(&hub, &[&app]);
        let n = counter(&s);
        let (acked, attempted) = (
            tally.acked.load(Ordering::SeqCst),
            tally.attempted.load(Ordering::SeqCst) as i64,
        );
        assert!(
            acked <= n && n <= attempted,
            "cycle {cycle} (seed {seed}): counter {n}, acknowledged {acked}, attempted {attempted}"
        );
        if let Some(figures) = figures {
            assert_eq!(
                figures,
                recount(&s),
                "cycle {cycle} (seed {seed}): check vs recount"
            );
            recounts += 1;
        }
        if cycle == CYCLES {
            break;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let clients = load(s.addr, &tally, &stop, rng.next());
        std::thread::sleep(Duration::from_millis(rng.below(150)));
        let _ = s.child.kill();
        let _ = s.child.wait();
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            c.join().unwrap();
        }
    }
    let (acked, attempted) = (
        tally.acked.load(Ordering::SeqCst),
        tally.attempted.load(Ordering::SeqCst),
    );
    println!(
        "{CYCLES} kills in {:?}: {attempted} increments attempted, {acked} acknowledged, \
         {recounts} recounts",
        started.elapsed()
    );
    assert!(acked > 0, "no increment was ever acknowledged");
}
