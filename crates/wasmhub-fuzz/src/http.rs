//! The HTTP front end: arbitrary bytes on a connection to a real `wasmhub serve` (in this
//! process, serving the `echo-http` guest with small limits) get a well-formed answer or a
//! closed connection, and the server keeps answering a plain request afterwards.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use wasmhub_app::{App, GrantSite, Grants};
use wasmhub_core::{EngineKind, Metering, new_engine};
use wasmhub_http::ServeOptions;

/// HTTP/2's connection preface: such inputs are answered in binary frames.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

/// The server, started on first use.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let options = ServeOptions {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                max_instances: 16,
                request_timeout: Duration::from_secs(2),
                drain_timeout: Duration::from_millis(100),
                max_body_bytes: 64 << 10,
                max_header_bytes: 8 << 10,
                metrics_addr: None,
                ..ServeOptions::default()
            };
            let source = crate::guests_dir().join("echo-http.wasm");
            let app = App::single(&source, Grants::none(GrantSite::Flags));
            let engine = new_engine(EngineKind::Serve {
                max_instances: options.max_instances,
                metering: Metering::for_app(&app),
            })
            .expect("an engine");
            let prepared = wasmhub_http::prepare(&engine, None, app, &options)
                .unwrap_or_else(|e| panic!("{}: {e:#}", source.display()));
            let rt = tokio::runtime::Runtime::new().expect("a runtime");
            rt.block_on(async move {
                let server = wasmhub_http::Server::bind(engine, prepared, options)
                    .await
                    .expect("bound");
                tx.send(server.local_addr().expect("an address"))
                    .expect("the fuzzer waits");
                server.run(std::future::pending()).await.expect("serving");
            });
        });
        rx.recv().expect("the server started")
    })
}

/// Sends `data`, half-closes, and reads what comes back within two seconds.
fn exchange(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("the server accepts connections");
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    s.set_write_timeout(Some(Duration::from_secs(2))).ok();
    // The server may answer and close before reading everything: that is allowed.
    let _ = s.write_all(data);
    let _ = s.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    answer
}

/// One connection carrying `data`, then a liveness check.
pub fn http_request(data: &[u8]) {
    let addr = server();
    let answer = exchange(addr, data);
    if !answer.is_empty() && !data.starts_with(H2_PREFACE) {
        assert!(
            answer.starts_with(b"HTTP/1.1 ") || answer.starts_with(b"HTTP/1.0 "),
            "not an HTTP answer: {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(200)])
        );
    }
    let plain = exchange(
        addr,
        b"POST /echo HTTP/1.1\r\nhost: fuzz\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
    );
    assert!(
        plain.starts_with(b"HTTP/1.1 200"),
        "the server stopped answering after that input: {:?}",
        String::from_utf8_lossy(&plain)
    );
}
