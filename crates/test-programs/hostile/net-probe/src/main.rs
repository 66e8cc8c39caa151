//! `net-probe`: tries the network operations named by its arguments and reports each one.
//!
//! Operations, any number in order: `tcp HOST:PORT` (connect and send `ping`),
//! `udp HOST:PORT` (send a `ping` datagram), `dns NAME` (look the name up),
//! `listen HOST:PORT` (bind a TCP listener). Each prints `ok OP ARG: ...` or
//! `denied OP ARG: ERROR`; the exit status is 1 when any was denied.

use std::io::Write;
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut denied = false;
    for pair in args.chunks(2) {
        let [op, arg] = pair else {
            panic!("every operation names an address")
        };
        let result = match op.as_str() {
            "tcp" => TcpStream::connect(arg.as_str())
                .and_then(|mut s| s.write_all(b"ping").map(|()| "sent ping".to_owned())),
            "udp" => UdpSocket::bind("0.0.0.0:0")
                .and_then(|s| s.send_to(b"ping", arg.as_str()))
                .map(|n| format!("sent {n} bytes")),
            "dns" => (arg.as_str(), 0).to_socket_addrs().map(|addrs| {
                let ips: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
                ips.join(",")
            }),
            "listen" => TcpListener::bind(arg.as_str())
                .and_then(|l| l.local_addr())
                .map(|a| format!("listening on {a}")),
            other => panic!("unknown operation {other}"),
        };
        match result {
            Ok(text) => println!("ok {op} {arg}: {text}"),
            Err(e) => {
                denied = true;
                println!("denied {op} {arg}: {e}");
            }
        }
    }
    std::process::exit(i32::from(denied));
}
