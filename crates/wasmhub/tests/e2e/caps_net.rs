//! Sockets: denied at the call unless granted (refused before running under `--strict`);
//! every connect, send, bind and lookup checked.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use test_programs_artifacts::NET_PROBE;

use super::harness::{Hub, Ran, g, golden};

/// Runs net-probe with `grants` (the std guest also imports files: grant an empty dir).
fn probe(hub: &Hub, grants: &[&str], ops: &[&str]) -> Ran {
    let empty = hub.tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let dir = format!("{}::/empty:ro", empty.display());
    let mut cmd = hub.cmd();
    cmd.args(["run", "--dir", &dir])
        .args(grants)
        .arg(g(NET_PROBE))
        .args(ops);
    hub.output(&mut cmd)
}

/// The bytes a loopback listener received within a short wait, if a client connected.
fn accepted(listener: &TcpListener) -> Option<Vec<u8>> {
    listener.set_nonblocking(true).unwrap();
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        if let Ok((mut s, _)) = listener.accept() {
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            return Some(buf);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn sockets_are_denied_at_the_call_unless_granted_and_refused_under_strict() {
    let hub = Hub::new();
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = open.local_addr().unwrap().to_string();
    // A plain Rust std program with no grant flags at all runs; its connect is denied, the
    // first denial is reported once with the flag to add, and nothing reaches the port.
    let r = hub.run(&["run", g(NET_PROBE), "tcp", &addr, "tcp", &addr]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with(&format!("denied tcp {addr}: ")),
        "{}",
        r.stdout
    );
    let warning = format!(
        "wasmhub: warning: the component tried to connect to tcp://{addr} but no socket grant \
         covers it: the call was denied; to allow it, add --connect tcp://{addr}\n"
    );
    assert_eq!(r.stderr, warning, "one warning, then counted silently");
    assert!(
        accepted(&open).is_none(),
        "a denied connect never reaches the port"
    );

    let r = probe(&hub, &["--strict"], &["dns", "localhost"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.is_empty(), "the guest never ran");
    golden("refused-sockets-flags", &hub.normalize(&r.stderr));
}

#[test]
fn tcp_connects_only_where_granted() {
    let hub = Hub::new();
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = open.local_addr().unwrap().to_string();
    let other = format!(
        "--connect=tcp://127.0.0.1:{}",
        open.local_addr().unwrap().port() + 1
    );

    // Granted a different port: the open one is refused, and nothing reaches it.
    let r = probe(&hub, &[&other], &["tcp", &addr]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with(&format!("denied tcp {addr}: ")),
        "{}",
        r.stdout
    );
    assert!(
        accepted(&open).is_none(),
        "a denied connect must never reach the port"
    );

    let grant = format!("--connect=tcp://{addr}");
    let r = probe(&hub, &[&grant], &["tcp", &addr]);
    assert_eq!(
        r.stdout,
        format!("ok tcp {addr}: sent ping\n"),
        "{}",
        r.stderr
    );
    assert_eq!(accepted(&open).as_deref(), Some(&b"ping"[..]));
}

#[test]
fn udp_sends_only_where_granted() {
    let hub = Hub::new();
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let tcp_only = format!("--connect=tcp://{addr}");
    let r = probe(&hub, &[&tcp_only], &["udp", &addr]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with(&format!("denied udp {addr}: ")),
        "{}",
        r.stdout
    );
    let mut buf = [0u8; 16];
    assert!(
        server.recv_from(&mut buf).is_err(),
        "no datagram may arrive"
    );

    let grant = format!("--connect=udp://{addr}");
    let r = probe(&hub, &[&grant], &["udp", &addr]);
    assert_eq!(
        r.stdout,
        format!("ok udp {addr}: sent 4 bytes\n"),
        "{}",
        r.stderr
    );
    let (n, _) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
}

#[test]
fn name_lookup_only_when_a_grant_names_a_host() {
    let hub = Hub::new();
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = open.local_addr().unwrap().port();
    let by_ip = format!("--connect=tcp://127.0.0.1:{port}");
    let r = probe(&hub, &[&by_ip], &["dns", "localhost"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.starts_with("denied dns localhost: "),
        "{}",
        r.stdout
    );

    let by_name = format!("--connect=tcp://localhost:{port}");
    let target = format!("localhost:{port}");
    let r = probe(&hub, &[&by_name], &["tcp", &target]);
    assert_eq!(
        r.stdout,
        format!("ok tcp {target}: sent ping\n"),
        "{}",
        r.stderr
    );
    assert_eq!(accepted(&open).as_deref(), Some(&b"ping"[..]));
}

#[test]
fn listening_needs_a_bind_grant() {
    let hub = Hub::new();
    let connect = "--connect=tcp://127.0.0.1:9";
    let r = probe(&hub, &[connect], &["listen", "127.0.0.1:0"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.starts_with("denied listen 127.0.0.1:0: "),
        "{}",
        r.stdout
    );
    let r = probe(
        &hub,
        &["--bind=tcp://127.0.0.1:*"],
        &["listen", "127.0.0.1:0"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .starts_with("ok listen 127.0.0.1:0: listening on 127.0.0.1:")
    );
}
