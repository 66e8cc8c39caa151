//! A `wasmhub serve` process on 127.0.0.1:0 and a minimal HTTP/1.1 client, all bounded in time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::harness::Hub;

/// A running server; killed on drop.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
    /// Everything the server wrote to stderr so far (its log).
    pub log: Arc<Mutex<String>>,
    /// Where it serves its admin routes (`--admin-addr`), if it does.
    pub admin: Option<SocketAddr>,
    /// Where it serves `/metrics` (`--metrics-addr`), if it does.
    pub metrics: Option<SocketAddr>,
}

/// A response: status, lowercase headers, body.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the body ended as its framing says (the final chunk, or all of its
    /// `content-length`), rather than being cut.
    pub complete: bool,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Served {
    /// Starts `wasmhub serve ARGS... --addr 127.0.0.1:0` and waits for its address.
    pub fn start(hub: &Hub, args: &[&str]) -> Self {
        Self::start_env(hub, args, &[])
    }

    /// [`Served::start`] with the log filter `filter` (`WASMHUB_LOG`).
    pub fn start_logging(hub: &Hub, args: &[&str], filter: &str) -> Self {
        Self::start_env(hub, args, &[("WASMHUB_LOG", filter)])
    }

    /// [`Served::start`] with extra environment variables (`WASMHUB_LOG` among them).
    pub fn start_env(hub: &Hub, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = hub
            .cmd()
            .arg("serve")
            .args(["--addr", "127.0.0.1:0"])
            .args(isolation(args))
            .args(args)
            .env("WASMHUB_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wasmhub serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
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
            // The metrics and admin lines come before the listening line.
            let (mut metrics, mut admin) = (None, None);
            let at = |rest: &str| rest.split('/').next().unwrap().parse::<SocketAddr>().ok();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("metrics on http://") {
                    metrics = at(rest);
                } else if let Some(rest) = line.strip_prefix("admin on http://") {
                    admin = at(rest);
                } else if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send((addr.parse::<SocketAddr>().unwrap(), admin, metrics));
                }
            }
        });
        // A cold start compiles every component first: a JS or Python one takes ~10 s of
        // Cranelift on an idle machine, several times that on a busy one.
        let (addr, admin, metrics) = match rx.recv_timeout(Duration::from_secs(240)) {
            Ok(found) => found,
            Err(_) => {
                let _ = child.kill();
                panic!("serve did not start: {}", log.lock().unwrap());
            }
        };
        Self {
            child,
            addr,
            log,
            admin,
            metrics,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Resp {
        request(self.addr, "GET", path, &[])
    }

    /// Sends the server SIGTERM (a graceful shutdown).
    pub fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid}: {sent}");
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle` (up to 10 s).
    pub fn wait_log(&self, needle: &str) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() > until {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // What the server saw, beside the failed assertion.
            eprintln!("--- the server's log ---\n{}", self.log());
        }
    }
}

/// `--isolation MODE` from `WASMHUB_TEST_ISOLATION` (`cargo xtask test` runs the serve
/// tests once more with `process`), unless the test chose its own.
pub fn isolation(args: &[&str]) -> Vec<String> {
    match std::env::var("WASMHUB_TEST_ISOLATION") {
        Ok(mode) if !args.contains(&"--isolation") => vec!["--isolation".into(), mode],
        _ => Vec::new(),
    }
}

/// One HTTP/1.1 request on a fresh connection, 30 s timeout.
pub fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Resp {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // Write the body from another thread: an echo answers while we still send.
    let mut writer = s.try_clone().unwrap();
    let body = body.to_vec();
    let sender = std::thread::spawn(move || {
        for chunk in body.chunks(1 << 16) {
            if writer.write_all(chunk).is_err() {
                break;
            }
        }
    });
    let raw = read_until_closed(&mut s);
    sender.join().unwrap();
    parse(&raw)
}

/// Everything `s` delivers until the server closes it (a reset counts as closed: a cut
/// response may end that way); panics past the socket's read timeout.
pub fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionReset) => return raw,
            Err(e) => panic!(
                "reading the response: {e}; so far: {:?}",
                String::from_utf8_lossy(&raw)
            ),
        }
    }
}

/// Reads from `s` into `raw` until it holds `needle`; panics past the read timeout.
pub fn read_until(s: &mut TcpStream, raw: &mut Vec<u8>, needle: &[u8]) {
    let mut buf = [0u8; 64 << 10];
    while !raw.windows(needle.len()).any(|w| w == needle) {
        match s.read(&mut buf) {
            Ok(0) => panic!(
                "closed before {:?} came: {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(raw)
            ),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "waiting for {:?}: {e}; so far: {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(raw)
            ),
        }
    }
}

/// Parses a whole HTTP/1.1 response as read from the socket.
pub fn parse(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let (body, complete) = if chunked {
        dechunk(rest)
    } else {
        (rest.to_vec(), length.is_none_or(|n| n == rest.len()))
    };
    Resp {
        status,
        headers,
        body,
        complete,
    }
}

/// The chunks' data, and whether the final (empty) chunk came.
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let Ok(size) = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16)
        else {
            break;
        };
        rest = &rest[eol + 2..];
        if size == 0 {
            return (out, true);
        }
        if rest.len() < size + 2 {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
    (out, false)
}

/// Writes a manifest into the hub's scratch dir and returns its path.
pub fn manifest(hub: &Hub, text: &str) -> String {
    let path = hub.tmp.path().join("wasmhub.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A guest's path as a TOML string value.
pub fn toml_path(p: &str) -> String {
    format!("{:?}", Path::new(p).display().to_string())
}
