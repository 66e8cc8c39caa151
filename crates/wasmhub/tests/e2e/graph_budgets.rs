//! Link targets held to their own budgets in `serve`: a target that spins to its deadline
//! yields and gives way like any guest, so the server keeps answering other requests.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use test_programs_artifacts::{CART, HELLO_HTTP, PRICING_SPIN};

use super::harness::{Hub, g};
use super::server::{Served, manifest, toml_path};

/// `cart` (at `/cart/...`) linked to `pricing-spin` with a long deadline, and `hello` at
/// `/hello`; the spinners say they started in `marks`.
fn spinning_shop(hub: &Hub, marks: &std::path::Path) -> String {
    manifest(
        hub,
        &format!(
            "[app]\nname = \"spin\"\n\n[component.cart]\nsource = {}\nroute = \"/cart/...\"\n\n\
             [component.cart.link]\n\"acme:pricing/calc\" = \"pricing\"\n\n\
             [component.pricing]\nsource = {}\n\n[component.pricing.budget]\ndeadline = \"60s\"\n\n\
             [component.pricing.grant]\nfiles = [{{ host = {}, guest = \"/data\", mode = \"rw\" }}]\n\n\
             [component.hello]\nsource = {}\nroute = \"/hello\"\n",
            toml_path(g(CART)),
            toml_path(g(PRICING_SPIN)),
            toml_path(marks.to_str().unwrap()),
            toml_path(g(HELLO_HTTP)),
        ),
    )
}

#[test]
fn a_spinning_link_target_with_a_deadline_does_not_delay_other_requests() {
    let hub = Hub::new();
    let marks = hub.tmp.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    let path = spinning_shop(&hub, &marks);
    let s = Served::start(&hub, &["--request-timeout", "120s", &path]);
    // One spinner per worker thread of the server (it runs one per core): a target that
    // never yields holds every one of them.
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    let spinners: Vec<TcpStream> = (0..n)
        .map(|i| {
            let mut c = TcpStream::connect_timeout(&s.addr, Duration::from_secs(5)).unwrap();
            let head = format!(
                "GET /cart/describe?sku=spin{i} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
            );
            c.write_all(head.as_bytes()).unwrap();
            c
        })
        .collect();
    // Every spinner is inside the link target before the short requests go.
    let until = Instant::now() + Duration::from_secs(120);
    while std::fs::read_dir(&marks).unwrap().count() < n {
        assert!(
            Instant::now() < until,
            "the spinners did not start: {}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..3 {
        let r = s.get("/hello");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // ... and all of them answered while every spinner was still spinning.
    for c in &spinners {
        c.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        match c.peek(&mut byte) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("a spinner ended before the short requests were answered: {other:?}"),
        }
    }
}
