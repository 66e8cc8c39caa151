//! Limits on the host itself, at their edges: the time a client has to send a request head
//! (or its first byte), and how many connections are open at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use test_programs_artifacts::HELLO_HTTP;

use super::harness::{Hub, g};
use super::server::Served;

/// Sends a whole GET on `s` and reads the answer, waiting at most `wait`.
fn get_on(s: &mut TcpStream, wait: Duration) -> std::io::Result<String> {
    s.set_read_timeout(Some(wait))?;
    s.write_all(b"GET / HTTP/1.1\r\nhost: limits\r\nconnection: close\r\n\r\n")?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    Ok(answer)
}

/// Serves with a 300 ms header timeout, lets `open` connect and send what it sends, and
/// checks the server closes that connection at the limit and still serves a fresh one.
fn cut_at_the_header_timeout(open: impl FnOnce(std::net::SocketAddr) -> TcpStream) {
    let hub = Hub::new();
    let s = Served::start(&hub, &["--header-timeout", "300ms", g(HELLO_HTTP)]);
    let mut stalled = open(s.addr);
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let closed = stalled.read_to_end(&mut Vec::new());
    let took = started.elapsed();
    assert!(closed.is_ok(), "not closed: {closed:?}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "closed after {took:?}"
    );
    // A whole head sent in time is served as always.
    let mut fresh = TcpStream::connect(s.addr).unwrap();
    let answer = get_on(&mut fresh, Duration::from_secs(5)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Hello, wasm!"), "{answer}");
}

#[test]
fn a_slow_request_head_is_cut_at_the_header_timeout() {
    // Half a head, then silence (slowloris).
    cut_at_the_header_timeout(|addr| {
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nhost: limits\r\n")
            .unwrap();
        slow
    });
}

#[test]
fn a_silent_connection_is_cut_at_the_header_timeout() {
    // Connected, and not one byte sent: neither HTTP/1 nor HTTP/2 has begun.
    cut_at_the_header_timeout(|addr| TcpStream::connect(addr).unwrap());
}

#[test]
fn an_idle_http2_connection_is_cut_at_the_header_timeout() {
    // The HTTP/2 preface and an empty SETTINGS frame, then silence: not even the server's
    // SETTINGS or its GOAWAY's PING is acknowledged.
    cut_at_the_header_timeout(|addr| {
        let mut idle = TcpStream::connect(addr).unwrap();
        idle.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
            .unwrap();
        idle
    });
}

#[test]
fn connections_beyond_the_limit_wait_for_one_to_close() {
    let hub = Hub::new();
    let s = Served::start(
        &hub,
        &[
            "--max-connections",
            "2",
            "--header-timeout",
            "20s",
            g(HELLO_HTTP),
        ],
    );
    // Two idle connections take both places.
    let first = TcpStream::connect(s.addr).unwrap();
    let _second = TcpStream::connect(s.addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // The third is held in the backlog: no answer while both stay open...
    let mut third = TcpStream::connect(s.addr).unwrap();
    let waited = get_on(&mut third, Duration::from_millis(700));
    assert!(waited.is_err(), "answered over the limit: {waited:?}");
    // ...and its request is answered as soon as one of them closes.
    drop(first);
    let answer = {
        let mut answer = String::new();
        third
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        third.read_to_string(&mut answer).unwrap();
        answer
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn the_metrics_listener_cuts_slow_and_silent_clients_at_the_header_timeout() {
    let hub = Hub::new();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let _s = Served::start(
        &hub,
        &[
            "--header-timeout",
            "300ms",
            "--metrics-addr",
            &metrics.to_string(),
            g(HELLO_HTTP),
        ],
    );
    let slow = {
        let mut slow = TcpStream::connect(metrics).unwrap();
        slow.write_all(b"GET /metrics HTTP/1.1\r\nhost: limits\r\n")
            .unwrap();
        slow
    };
    let silent = TcpStream::connect(metrics).unwrap();
    for (what, mut stalled) in [("slow", slow), ("silent", silent)] {
        stalled
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let closed = stalled.read_to_end(&mut Vec::new());
        assert!(closed.is_ok(), "{what} metrics client not cut: {closed:?}");
    }
    // A whole request is answered as always.
    let mut fresh = TcpStream::connect(metrics).unwrap();
    fresh
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    fresh
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: limits\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    fresh.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
