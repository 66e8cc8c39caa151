//! Bodies in flight: long streamed exchanges outlive the header timeout, and a guest that
//! fails once its response head is out ends the body abnormally (never a clean success).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use test_programs_artifacts::{ECHO_HTTP, MISBEHAVE_HTTP, MISBEHAVE_HTTP3};

use super::harness::{Hub, g};
use super::server::{Served, parse, read_until, read_until_closed};

/// A curl upload whose body the test writes piece by piece, its answer read as it streams.
struct Curl {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Curl {
    /// `curl -T -` (chunked over HTTP/1.1, DATA frames over HTTP/2) to `url`.
    fn start(url: &str, http2: bool) -> Self {
        let mut child = Command::new("curl")
            .args(["-sS", "-N", "--max-time", "120", "-T", "-", "-H", "Expect:"])
            .arg(if http2 {
                "--http2-prior-knowledge"
            } else {
                "--http1.1"
            })
            .arg(url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("curl runs");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, out) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            out,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until the answer so far holds `needle`.
    fn wait_for(&mut self, needle: &str, within: Duration) -> Result<(), String> {
        let until = Instant::now() + within;
        while !String::from_utf8_lossy(&self.seen).contains(needle) {
            let left = until.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(bytes) => self.seen.extend_from_slice(&bytes),
                Err(e) => {
                    return Err(format!(
                        "no {needle:?} ({e}); so far {:?}",
                        String::from_utf8_lossy(&self.seen)
                    ));
                }
            }
        }
        Ok(())
    }

    /// Ends the upload and waits for curl: its exit code and everything it printed.
    fn finish(mut self, within: Duration) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let until = Instant::now() + within;
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(bytes) = self.out.recv_timeout(Duration::from_secs(2)) {
            self.seen.extend_from_slice(&bytes);
        }
        (code, String::from_utf8_lossy(&self.seen).into_owned())
    }
}

impl Drop for Curl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Streams `chunks` lines through the echo guest at `addr`, `gap` apart, reading the echo
/// as it streams; the whole exchange must arrive. (curl sends a piece of its upload only
/// when it reads the next, so the echo of each line is awaited one line later.)
fn exchange(addr: SocketAddr, http2: bool, chunks: usize, gap: Duration) {
    let what = if http2 { "HTTP/2" } else { "HTTP/1.1" };
    let mut curl = Curl::start(&format!("http://{addr}/"), http2);
    let mut expected = String::new();
    for i in 0..chunks {
        let line = format!("chunk {i}\n");
        curl.send(line.as_bytes());
        if i > 0
            && let Err(e) = curl.wait_for(&expected, Duration::from_secs(20))
        {
            panic!("{what}: cut after {i} of {chunks} chunks: {e}");
        }
        expected.push_str(&line);
        std::thread::sleep(gap);
    }
    let (code, out) = curl.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{what}: curl failed; it got {out:?}");
    assert_eq!(out, expected, "{what}");
}

#[test]
fn a_streamed_exchange_spanning_several_header_timeouts_arrives_whole() {
    let hub = Hub::new();
    let s = Served::start(&hub, &["--header-timeout", "1s", g(ECHO_HTTP)]);
    let addr = s.addr;
    let h2 = std::thread::spawn(move || exchange(addr, true, 7, Duration::from_secs(1)));
    exchange(addr, false, 7, Duration::from_secs(1));
    h2.join().unwrap();
}

#[test]
fn a_streamed_exchange_past_twice_the_default_header_timeout_arrives_whole() {
    // The defaults: a 10 s header timeout and a 30 s request deadline; ~23 s of streaming.
    let hub = Hub::new();
    let s = Served::start(&hub, &[g(ECHO_HTTP)]);
    let addr = s.addr;
    let h2 = std::thread::spawn(move || exchange(addr, true, 9, Duration::from_millis(2500)));
    exchange(addr, false, 9, Duration::from_millis(2500));
    h2.join().unwrap();
}

/// Over HTTP/1.1: the guest at `path` answers 200 and streams `partial\n`; only then is its
/// request body sent, and it traps. The body must end without its final chunk, and the
/// access log must say the body was cut.
fn cut_after_the_head_http1(s: &Served, path: &str) {
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!("POST {path} HTTP/1.1\r\nhost: cut\r\ncontent-length: 1\r\n\r\n");
    c.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    read_until(&mut c, &mut raw, b"partial\n");
    c.write_all(b"x").unwrap();
    raw.extend(read_until_closed(&mut c));
    let r = parse(&raw);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(r.text(), "partial\n");
    assert!(
        !r.complete,
        "the body ended cleanly: {:?}",
        String::from_utf8_lossy(&raw)
    );
    let id = r.header("x-request-id").unwrap().to_owned();
    let log = s.wait_log(&format!("request_id={id} outcome=\"cut\""));
    let line = log
        .lines()
        .find(|l| {
            l.contains("wasmhub::access") && l.contains(&format!("request_id={id} outcome=\"cut\""))
        })
        .unwrap_or_else(|| panic!("no access line for the cut body of {id}: {log}"));
    assert!(line.contains("kind=\"trap\""), "{line}");
}

/// The same over HTTP/2 (no request body): the stream is reset, so curl fails after
/// printing the part.
fn cut_after_the_head_http2(s: &Served, path: &str) {
    let out = Command::new("curl")
        .args(["-sS", "-N", "--max-time", "20", "--http2-prior-knowledge"])
        .arg(format!("http://{}{path}", s.addr))
        .stderr(Stdio::null())
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "partial\n");
    assert!(
        out.status.code().is_some_and(|c| c != 0),
        "curl saw a clean end ({})",
        out.status
    );
}

#[test]
fn a_wasi2_guest_failing_after_its_head_cuts_the_body() {
    let hub = Hub::new();
    let s = Served::start(&hub, &[g(MISBEHAVE_HTTP)]);
    cut_after_the_head_http1(&s, "/partial");
    cut_after_the_head_http2(&s, "/partial");
    // Before the head, the client is told the truth.
    let r = s.get("/trap");
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.complete);
}

#[test]
fn a_wasi3_guest_failing_after_its_head_cuts_the_body() {
    let hub = Hub::new();
    let s = Served::start(&hub, &["--wasi", "0.3", g(MISBEHAVE_HTTP3)]);
    cut_after_the_head_http1(&s, "/partial");
    cut_after_the_head_http2(&s, "/partial");
    let r = s.get("/trap");
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.complete);
}
