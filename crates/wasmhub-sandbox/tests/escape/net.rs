//! The `net-*` cases: a worker whose tenant is granted one TCP address. Its socket calls
//! are made by the driver's `SocketBroker`, which allows connecting to that address (and
//! binding the wildcard address to port 0) and nothing else.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use wasmhub_sandbox::{SocketOp, SocketUse};

/// The cases.
pub const CASES: &[&str] = &[
    "net-granted",
    "net-ungranted",
    "net-udp",
    "net-raw",
    "net-unix",
    "net-bind",
    "net-sendmsg",
];

/// The address granted to the worker (the driver's first TCP listener), in the worker.
fn granted() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port("ESCAPE_TCP_PORT")))
}

/// The broker's check, in the driver: connecting to `granted` over TCP, and the implicit
/// bind of the wildcard address to port 0.
pub fn check(granted: SocketAddr) -> impl Fn(&SocketUse) -> bool + Send + 'static {
    move |u| match u.op {
        SocketOp::Connect => u.tcp && u.addr == granted,
        SocketOp::Bind => u.addr.ip().is_unspecified() && u.addr.port() == 0,
        SocketOp::Listen | SocketOp::Send => false,
    }
}

/// Runs one `net-*` case.
pub fn attempt(case: &str) -> io::Result<()> {
    let ungranted = SocketAddr::from(([127, 0, 0, 1], port("ESCAPE_TCP_PORT_UNGRANTED")));
    match case {
        "net-granted" => TcpStream::connect(granted())?.write_all(b"ping"),
        "net-ungranted" => TcpStream::connect(ungranted).map(drop),
        "net-udp" => UdpSocket::bind("0.0.0.0:0")?
            .send_to(b"ping", "127.0.0.1:9")
            .map(drop),
        // SAFETY: plain system call; the descriptor leaks until the process ends.
        "net-raw" => os(unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) }),
        "net-unix" => UnixStream::connect(std::env::var("ESCAPE_UNIX_SOCKET").unwrap()).map(drop),
        "net-bind" => TcpListener::bind("127.0.0.1:0").map(drop),
        "net-sendmsg" => sendmsg_to(
            &UdpSocket::bind("0.0.0.0:0")?,
            "127.0.0.1:9".parse().unwrap(),
        ),
        other => panic!("unknown net case {other}"),
    }
}

/// One datagram to `to` through `sendmsg` (its address in memory, out of seccomp's sight).
fn sendmsg_to(sock: &UdpSocket, to: SocketAddr) -> io::Result<()> {
    let SocketAddr::V4(to) = to else {
        unreachable!()
    };
    let mut name = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: to.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*to.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let mut data = *b"ping";
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: a msghdr over local buffers.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&raw mut name).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        os(libc::sendmsg(sock.as_raw_fd(), &msg, 0) as i32)
    }
}

fn port(var: &str) -> u16 {
    std::env::var(var).expect(var).parse().unwrap()
}

fn os(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
