//! `net-http`: an HTTP handler that makes one socket call on the address it is given, to
//! prove a served component reaches what its socket grants allow, and only that, in a
//! worker process as in the server.
//!
//! `.../OP?ADDR`, OP one of `tcp` (connect, send `ping`, answer what the peer sends back
//! before it closes), `udp` (send a `ping` datagram from an unbound socket), `listen` (bind
//! a TCP listener there, answer its address and the bytes of one connection it accepts).
//! Success answers 200, a failure 403 with `denied: ERROR`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};

use guest_support::answer;
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct Net;

/// Runs `op` on `addr`.
fn run(op: &str, addr: &str) -> std::io::Result<String> {
    match op {
        "tcp" => {
            let mut s = TcpStream::connect(addr)?;
            s.write_all(b"ping")?;
            s.shutdown(std::net::Shutdown::Write)?;
            let mut back = String::new();
            s.read_to_string(&mut back)?;
            Ok(format!("sent ping, got {back:?}"))
        }
        "udp" => UdpSocket::bind("0.0.0.0:0")?
            .send_to(b"ping", addr)
            .map(|n| format!("sent {n} bytes")),
        "listen" => {
            let l = TcpListener::bind(addr)?;
            let local = l.local_addr()?;
            let (mut s, _) = l.accept()?;
            let mut got = String::new();
            s.read_to_string(&mut got)?;
            Ok(format!("listened on {local}, got {got:?}"))
        }
        other => Err(std::io::Error::other(format!("unknown operation {other}"))),
    }
}

impl wasip2::exports::http::incoming_handler::Guest for Net {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let (route, addr) = path.split_once('?').unwrap_or((path.as_str(), ""));
        // The last segment names the operation, whatever route prefix the app gives.
        let op = route.rsplit('/').next().unwrap_or_default();
        match run(op, addr) {
            Ok(text) => answer(out, 200, &text),
            Err(e) => answer(out, 403, &format!("denied: {e}")),
        }
    }
}

wasip2::http::proxy::export!(Net);
