//! A fleet for tests and benches: `wasmhub host` processes, haproxy in front of them
//! (health checks on `/-/health`), and a steady load that records every answer. Every
//! process is killed when its handle drops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `wasmhub host` process.
pub struct HostProc {
    /// Its `--id`.
    pub id: String,
    /// The process.
    pub child: Child,
    /// Where it serves the app.
    pub addr: SocketAddr,
    /// Its admin listener (`/-/health`).
    pub admin: SocketAddr,
    /// Its stderr so far.
    pub log: Arc<Mutex<String>>,
}

impl HostProc {
    /// Starts host `id` of `app` on `url` with `wasmhub` (a command of the wasmhub binary,
    /// its environment set), revisions kept in `work`, `extra` arguments added; waits
    /// (generously) until it serves.
    pub fn spawn(
        mut wasmhub: Command,
        work: &Path,
        url: &str,
        app: &str,
        id: &str,
        extra: &[&str],
    ) -> Self {
        let mut child = wasmhub
            .args(["host", "--cluster", url, "--app", app, "--id", id])
            .args(["--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
            .args(["--drain-grace", "2s"])
            .args(extra)
            .arg("--work-dir")
            .arg(work)
            .env("WASMHUB_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wasmhub host starts");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut admin = None;
            let at = |rest: &str| rest.split('/').next().unwrap().parse::<SocketAddr>().ok();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("admin on http://") {
                    admin = at(rest);
                } else if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send((addr.parse::<SocketAddr>().unwrap(), admin));
                }
            }
        });
        let Ok((addr, Some(admin))) = rx.recv_timeout(Duration::from_secs(240)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("host {id} did not start: {}", log.lock().unwrap());
        };
        Self {
            id: id.to_owned(),
            child,
            addr,
            admin,
            log,
        }
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for HostProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// haproxy in front of some hosts: round robin, health checks on each host's `/-/health`
/// every 300 ms (down after 2 failed), the answering server named in `x-server`. A request
/// whose connection fails or is closed before any answer (a killed host) is retried on
/// another server at once (`option redispatch 1`).
pub struct Haproxy {
    /// The process.
    pub child: Child,
    /// Its frontend.
    pub addr: SocketAddr,
}

impl Haproxy {
    /// Starts haproxy for `hosts`, its config in `dir`; with `maxconn`, each host gets at
    /// most that many requests at once and haproxy queues the rest.
    pub fn launch(dir: &Path, hosts: &[&HostProc], maxconn: Option<u32>) -> Self {
        let port = free_port();
        let limit = maxconn.map(|n| format!(" maxconn {n}")).unwrap_or_default();
        let mut servers = String::new();
        for h in hosts {
            servers.push_str(&format!(
                "  server {} {} check port {}{limit}\n",
                h.id,
                h.addr,
                h.admin.port()
            ));
        }
        let config = format!(
            "global\n  maxconn 2000\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  timeout queue 10s\n  \
             retries 3\n  option redispatch 1\n  retry-on conn-failure empty-response\n\
             frontend web\n  bind 127.0.0.1:{port}\n  default_backend hosts\n\
             backend hosts\n  balance roundrobin\n  option httpchk GET /-/health\n  \
             http-response set-header x-server %s\n  \
             default-server inter 300ms fall 2 rise 1\n{servers}"
        );
        let path = dir.join(format!("haproxy-{port}.cfg"));
        std::fs::write(&path, config).unwrap();
        let check = Command::new("haproxy")
            .arg("-c")
            .arg("-f")
            .arg(&path)
            .output()
            .expect("haproxy is installed (cargo xtask setup)");
        assert!(
            check.status.success(),
            "haproxy config: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy starts");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let proxy = Self { child, addr };
        let until = Instant::now() + Duration::from_secs(60);
        // Up once a host answers through it (any status: `/` may not be routed).
        while !get(addr, "/").is_ok_and(|a| a.server.is_some() && a.status != 503) {
            assert!(Instant::now() < until, "haproxy never passed on an answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        proxy
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answer: status, body, the server haproxy picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body, de-chunked.
    pub body: String,
    /// The `x-server` header haproxy sets.
    pub server: Option<String>,
}

/// `GET path` on a fresh connection (30 s timeouts: a key-value call may wait out a NATS
/// leader election, 20 s at most); an error instead of a panic.
pub fn get(addr: SocketAddr, path: &str) -> Result<Answer, String> {
    let wait = Duration::from_secs(30);
    let mut s = TcpStream::connect_timeout(&addr, wait).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(wait)).unwrap();
    s.set_write_timeout(Some(wait)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or(format!("no head: {text:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("no status: {head:?}"))?;
    let server = head
        .lines()
        .find_map(|l| l.strip_prefix("x-server: "))
        .map(str::to_owned);
    // Chunked bodies of these small answers: keep the lines that are not chunk sizes.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.split("\r\n")
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, l)| l)
            .collect()
    } else {
        body.to_owned()
    };
    Ok(Answer {
        status,
        body,
        server,
    })
}

/// One request of a [`Load`]: when it was sent, when it was answered, the answer.
pub type Sent = (Instant, Instant, Result<Answer, String>);

/// Requests sent in a loop by some threads, each answer kept with when it was asked.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<Sent>>>,
}

impl Load {
    /// `threads` clients sending `GET /` to `addr` one after another.
    pub fn start(addr: SocketAddr, threads: usize) -> Self {
        Self::start_at(addr, "/", threads)
    }

    /// `threads` clients sending `GET path` to `addr` one after another.
    pub fn start_at(addr: SocketAddr, path: &str, threads: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|_| {
                let (stop, path) = (stop.clone(), path.to_owned());
                std::thread::spawn(move || {
                    let mut out = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let at = Instant::now();
                        let answer = get(addr, &path);
                        out.push((at, Instant::now(), answer));
                    }
                    out
                })
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops; every thread's answers, in order.
    pub fn stop(self) -> Vec<Vec<Sent>> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect()
    }
}

/// The answers that are not 200.
pub fn failures(all: &[Vec<Sent>]) -> Vec<String> {
    all.iter()
        .flatten()
        .filter_map(|(_, _, r)| match r {
            Ok(a) if a.status == 200 => None,
            Ok(a) => Some(format!("{} {}", a.status, a.body)),
            Err(e) => Some(e.clone()),
        })
        .collect()
}
