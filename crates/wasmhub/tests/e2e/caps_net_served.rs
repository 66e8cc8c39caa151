//! Sockets of a served component: it reaches what its socket grants allow and nothing
//! else, in the server and in a worker process (`WASMHUB_TEST_ISOLATION=process`, where
//! the server makes the worker's socket calls after checking the tenant's grants).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use test_programs_artifacts::NET_HTTP;

use super::harness::{Hub, g};
use super::server::{Served, manifest, toml_path};

/// A listener that answers `pong` to each connection; returns its address and what the
/// connections sent, as they come.
fn pong() -> (SocketAddr, std::sync::mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut got = String::new();
            let _ = s.read_to_string(&mut got);
            let _ = s.write_all(b"pong");
            if tx.send(got).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_served_component_reaches_its_granted_sockets_and_nothing_else() {
    let hub = Hub::new();
    let (granted, seen) = pong();
    let (ungranted, unseen) = pong();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_ungranted = UdpSocket::bind("127.0.0.1:0").unwrap();
    let listen = free_port();
    let app = manifest(
        &hub,
        &format!(
            "[app]\nname = \"net\"\n\n[component.net]\nsource = {}\nroute = \"/net/...\"\n\n\
             [component.net.grant]\nsockets = {{ connect = [\"tcp://{granted}\", \"udp://{}\"], \
             bind = [\"tcp://127.0.0.1:{listen}\"] }}\n",
            toml_path(g(NET_HTTP)),
            udp.local_addr().unwrap(),
        ),
    );
    let s = Served::start(&hub, &[&app]);

    // TCP: the granted address, both ways; another is refused and never reached.
    let r = s.get(&format!("/net/tcp?{granted}"));
    assert_eq!(
        (r.status, r.text()),
        (200, "sent ping, got \"pong\"".into())
    );
    assert_eq!(seen.recv_timeout(Duration::from_secs(30)).unwrap(), "ping");
    let r = s.get(&format!("/net/tcp?{ungranted}"));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().starts_with("denied: "), "{}", r.text());

    // UDP: likewise.
    let r = s.get(&format!("/net/udp?{}", udp.local_addr().unwrap()));
    assert_eq!((r.status, r.text()), (200, "sent 4 bytes".into()));
    udp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 16];
    let (n, _) = udp.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    let r = s.get(&format!("/net/udp?{}", udp_ungranted.local_addr().unwrap()));
    assert_eq!(r.status, 403, "{}", r.text());

    // Listening: on the granted address a client gets through; elsewhere refused.
    let addr = s.addr;
    let answer = std::thread::spawn(move || {
        super::server::request(addr, "GET", &format!("/net/listen?127.0.0.1:{listen}"), &[])
    });
    let until = Instant::now() + Duration::from_secs(60);
    let mut client = loop {
        match TcpStream::connect(("127.0.0.1", listen)) {
            Ok(c) => break c,
            Err(e) if Instant::now() > until => panic!("the component never listened: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    client.write_all(b"hello").unwrap();
    drop(client);
    let r = answer.join().unwrap();
    assert_eq!(
        (r.status, r.text()),
        (
            200,
            format!("listened on 127.0.0.1:{listen}, got \"hello\"")
        )
    );
    let r = s.get(&format!("/net/listen?127.0.0.1:{}", free_port()));
    assert_eq!(r.status, 403, "{}", r.text());

    // Nothing refused was reached, and no worker died on the way.
    let mut buf = [0u8; 16];
    udp_ungranted
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(
        udp_ungranted.recv_from(&mut buf).is_err(),
        "an ungranted datagram arrived"
    );
    assert!(
        unseen.try_recv().is_err(),
        "an ungranted connection arrived"
    );
    assert!(!s.log().contains("worker ended"), "{}", s.log());
}
