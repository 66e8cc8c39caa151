//! The attackers of `bench chaos`: each kind of hostile request in its own client threads,
//! one request at a time per thread, counting how the server answered.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The idle attacker's name: it holds connections, it sends no requests.
pub const IDLE_KIND: &str = "idle connections";

/// Idle connections held open at once by the idle attacker.
pub const IDLE_CONNECTIONS: usize = 2000;

/// One kind of attack: its name, how many threads send it, and what one attempt does.
struct Kind {
    name: &'static str,
    threads: usize,
    attempt: fn(SocketAddr, &AtomicBool) -> String,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "loop to the deadline",
        threads: 2,
        attempt: |a, _| get(a, "/bad/loop", &[]),
    },
    Kind {
        name: "grow memory to the cap",
        threads: 1,
        attempt: |a, _| get(a, "/bad/grow", &[]),
    },
    Kind {
        name: "trap",
        threads: 1,
        attempt: |a, _| get(a, "/bad/trap", &[]),
    },
    Kind {
        name: "100 KiB header",
        threads: 1,
        attempt: |a, _| get(a, "/hello", &[("x-huge", &"h".repeat(100 << 10))]),
    },
    Kind {
        name: "head byte by byte",
        threads: 4,
        attempt: slow_head,
    },
    Kind {
        name: "body byte by byte",
        threads: 4,
        attempt: slow_body,
    },
    Kind {
        name: IDLE_KIND,
        threads: 1,
        attempt: idle,
    },
];

/// The attack under way.
pub struct Attack {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    outcomes: Arc<Mutex<Outcomes>>,
}

/// How attempts ended, by kind and outcome.
pub type Outcomes = BTreeMap<(&'static str, String), Tally>;

/// Attempts that ended one way, and the time they took in all.
#[derive(Default, Clone, Copy)]
pub struct Tally {
    /// How many.
    pub count: u64,
    /// Their total duration.
    pub seconds: f64,
}

impl Attack {
    /// Starts every kind against `addr`.
    pub fn start(addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let outcomes = Arc::new(Mutex::new(Outcomes::new()));
        let mut threads = Vec::new();
        for kind in KINDS {
            for _ in 0..kind.threads {
                let (stop, outcomes) = (stop.clone(), outcomes.clone());
                let (name, attempt) = (kind.name, kind.attempt);
                threads.push(std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let outcome = attempt(addr, &stop);
                        if outcome == "stopped" {
                            break;
                        }
                        let mut all = outcomes.lock().unwrap();
                        let tally = all.entry((name, outcome)).or_default();
                        tally.count += 1;
                        tally.seconds += started.elapsed().as_secs_f64();
                    }
                }));
            }
        }
        Self {
            stop,
            threads,
            outcomes,
        }
    }

    /// Stops every client and returns how each attempt ended, by kind.
    pub fn stop(self) -> Outcomes {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        std::mem::take(&mut *self.outcomes.lock().unwrap())
    }
}

/// Sends one whole request and returns `HTTP <status>`, or what went wrong.
fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    let mut head = format!("GET {path} HTTP/1.1\r\nhost: chaos\r\nconnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    exchange(addr, |s| s.write_all(head.as_bytes()).map(|()| Vec::new()))
}

/// Connects, lets `send` write (returning what it already read), then reads the status line.
fn exchange(
    addr: SocketAddr,
    send: impl FnOnce(&mut TcpStream) -> std::io::Result<Vec<u8>>,
) -> String {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return "connect failed".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(30)));
    let (seen, sent) = match send(&mut s) {
        Ok(seen) => (seen, true),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return "stopped".into(),
        Err(_) => (Vec::new(), false),
    };
    status(&mut s, seen).unwrap_or_else(|| match sent {
        true => "closed without an answer".into(),
        false => "closed while sending".into(),
    })
}

fn status(s: &mut TcpStream, mut got: Vec<u8>) -> Option<String> {
    let mut buf = [0u8; 64];
    while got.len() < 12 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&got);
    let code = line.strip_prefix("HTTP/1.1 ")?.get(..3)?.to_owned();
    Some(format!("HTTP {code}"))
}

/// Sends `bytes` one at a time, `every` apart, until all are sent, the server closes, or
/// (with `until_answer`) the server starts answering; returns what the server sent meanwhile.
fn drip(
    s: &mut TcpStream,
    bytes: &[u8],
    every: Duration,
    stop: &AtomicBool,
    until_answer: bool,
) -> std::io::Result<Vec<u8>> {
    use std::io::ErrorKind::{Interrupted, WouldBlock};
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    s.set_nonblocking(true)?;
    let mut rest = bytes;
    'drip: while let Some((b, tail)) = rest.split_first() {
        if stop.load(Ordering::Relaxed) {
            return Err(Interrupted.into());
        }
        loop {
            match s.read(&mut buf) {
                Ok(0) => break 'drip,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if until_answer && !seen.is_empty() {
            break;
        }
        match s.write(std::slice::from_ref(b)) {
            Ok(_) => rest = tail,
            Err(e) if e.kind() == WouldBlock => {}
            Err(e) => return Err(e),
        }
        std::thread::sleep(every);
    }
    s.set_nonblocking(false)?;
    Ok(seen)
}

/// A request head sent one byte every 100 ms (slowloris): cut at the header timeout.
fn slow_head(addr: SocketAddr, stop: &AtomicBool) -> String {
    let head = format!(
        "GET /hello HTTP/1.1\r\nhost: chaos\r\nx-padding: {}\r\n\r\n",
        "a".repeat(100)
    );
    exchange(addr, |s| {
        drip(s, head.as_bytes(), Duration::from_millis(100), stop, true)
    })
}

/// A 4096-byte body to an echo, one byte every 10 ms, sent on after the answer starts:
/// cut at the component's deadline.
fn slow_body(addr: SocketAddr, stop: &AtomicBool) -> String {
    exchange(addr, |s| {
        s.write_all(
            b"POST /echo HTTP/1.1\r\nhost: chaos\r\nconnection: close\r\ncontent-length: 4096\r\n\r\n",
        )?;
        drip(s, &[b'x'; 4096], Duration::from_millis(10), stop, false)
    })
}

/// Opens [`IDLE_CONNECTIONS`] connections that send nothing and holds them for 3 s.
fn idle(addr: SocketAddr, stop: &AtomicBool) -> String {
    let mut held = Vec::with_capacity(IDLE_CONNECTIONS);
    for _ in 0..IDLE_CONNECTIONS {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    let opened = held.len();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return "stopped".into();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    format!("{opened} opened, held 3 s")
}
