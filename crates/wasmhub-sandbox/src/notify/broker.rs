//! [`SocketBroker`]: the supervisor's side of a worker's socket calls.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::remote::{MAX_SEND, Socket, Task, parse, raw};

/// What a worker's call would do, for the supervisor's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketOp {
    /// Connect to `addr` (or send a TCP fast-open to it).
    Connect,
    /// Bind to the local address `addr`.
    Bind,
    /// Listen on `addr`, the socket's local address (or the wildcard address with port 0:
    /// see [`SocketBroker`]).
    Listen,
    /// Send a datagram to `addr`.
    Send,
}

/// One checked use of a socket: the operation, TCP or UDP, and the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketUse {
    /// What the call does.
    pub op: SocketOp,
    /// TCP (a stream socket) rather than UDP.
    pub tcp: bool,
    /// The remote address for [`SocketOp::Connect`] and [`SocketOp::Send`], the local one
    /// for [`SocketOp::Bind`] and [`SocketOp::Listen`].
    pub addr: SocketAddr,
}

/// The supervisor's answer to one call.
enum Reply {
    /// The call's return value.
    Value(i64),
    /// A new descriptor, put into the worker's table as the call's return value.
    Fd { fd: OwnedFd, cloexec: bool },
}

type Check = Box<dyn Fn(&SocketUse) -> bool + Send>;

/// Makes one worker's socket calls ([`crate::notify`]) once each passes `check`, in this
/// process's network namespace: `socket` for inet stream and datagram sockets only (TCP
/// and UDP; any other family, type or protocol fails with EACCES), then `connect`,
/// `bind`, `listen` and sends with an address, each refused with EACCES unless `check`
/// allows its [`SocketUse`]. A listen is allowed if `check` allows listening on the
/// socket's local address, or on the wildcard address with port 0 (what Wasmtime asks for
/// a socket it binds implicitly). A send carries at most 64 KiB.
pub struct SocketBroker {
    listener: OwnedFd,
    check: Check,
}

impl SocketBroker {
    /// A broker for the worker whose listener is `listener` (received from it with
    /// [`crate::recv_fd`]).
    pub fn new(listener: OwnedFd, check: impl Fn(&SocketUse) -> bool + Send + 'static) -> Self {
        Self {
            listener,
            check: Box::new(check),
        }
    }

    /// Answers the worker's calls until it has ended (blocking: run it on a thread).
    pub fn run(self) {
        let fd = self.listener.as_raw_fd();
        loop {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one local pollfd.
            if unsafe { libc::poll(&mut p, 1, -1) } < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            if p.revents & libc::POLLIN == 0 {
                return; // POLLHUP: no task of the worker is left
            }
            // SAFETY: the kernel requires a zeroed struct; it fills it in.
            let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
            // SAFETY: NOTIF_RECV into a local struct of the right size.
            if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n) } < 0 {
                // ENOENT: the worker's call went away (its thread was killed) before we took it.
                continue;
            }
            let reply = self
                .answer(&n)
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO));
            self.reply(n.id, reply);
        }
    }

    /// Makes the call `n` describes, if allowed.
    fn answer(&self, n: &libc::seccomp_notif) -> io::Result<Reply> {
        let a = n.data.args;
        let nr = libc::c_long::from(n.data.nr);
        if nr == libc::SYS_socket {
            return new_socket(a[0], a[1], a[2]);
        }
        let task = Task::open(n.pid)?;
        // The thread is the caller, not another that took its number since.
        self.still_waiting(n.id)?;
        match nr {
            libc::SYS_connect | libc::SYS_bind => {
                let bytes = task.read(a[1], address_len(a[2])?)?;
                let sock = inet(task.socket(a[0])?)?;
                self.still_waiting(n.id)?;
                let addr = parse(&bytes)?;
                let op = if nr == libc::SYS_bind {
                    SocketOp::Bind
                } else {
                    SocketOp::Connect
                };
                // AF_UNSPEC: a datagram socket's disconnect, which reaches nothing.
                if let Some(addr) = addr {
                    self.allow(op, &sock, addr)?;
                }
                let (storage, len) = raw(addr);
                let ptr = (&raw const storage).cast();
                let fd = sock.fd.as_raw_fd();
                // SAFETY: a sockaddr made by `raw`, of length `len`.
                let r = unsafe {
                    if op == SocketOp::Bind {
                        libc::bind(fd, ptr, len)
                    } else {
                        libc::connect(fd, ptr, len)
                    }
                };
                result(r.into())
            }
            libc::SYS_listen => {
                let sock = inet(task.socket(a[0])?)?;
                self.still_waiting(n.id)?;
                let local = sock.local_addr()?;
                let any: IpAddr = if local.is_ipv6() {
                    Ipv6Addr::UNSPECIFIED.into()
                } else {
                    Ipv4Addr::UNSPECIFIED.into()
                };
                let wildcard = SocketAddr::new(any, 0);
                if self.allow(SocketOp::Listen, &sock, local).is_err() {
                    self.allow(SocketOp::Listen, &sock, wildcard)?;
                }
                // SAFETY: plain system call on our duplicate.
                result(unsafe { libc::listen(sock.fd.as_raw_fd(), a[1] as libc::c_int) }.into())
            }
            libc::SYS_sendto => {
                let bytes = task.read(a[4], address_len(a[5])?)?;
                let sock = inet(task.socket(a[0])?)?;
                let data = task.read(a[1], send_len(&sock, a[2])?)?;
                self.still_waiting(n.id)?;
                let addr = parse(&bytes)?.ok_or_else(|| errno(libc::EINVAL))?;
                self.allow(SocketOp::Send, &sock, addr)?;
                send(&sock, &data, Some(addr), a[3])
            }
            _ => Err(errno(libc::ENOSYS)),
        }
    }

    /// EACCES unless `check` allows `op` at `addr` on `sock`.
    fn allow(&self, op: SocketOp, sock: &Socket, addr: SocketAddr) -> io::Result<()> {
        let tcp = sock.kind == libc::SOCK_STREAM;
        if (self.check)(&SocketUse { op, tcp, addr }) {
            Ok(())
        } else {
            Err(errno(libc::EACCES))
        }
    }

    /// ENOENT once the worker's call is no longer waiting for this answer.
    fn still_waiting(&self, id: u64) -> io::Result<()> {
        // SAFETY: NOTIF_ID_VALID reads one local u64.
        let r = unsafe {
            libc::ioctl(
                self.listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
                &id,
            )
        };
        result(r.into()).map(drop)
    }

    /// Answers call `id` (ignored if it is no longer waiting).
    fn reply(&self, id: u64, reply: Result<Reply, i32>) {
        let fd = self.listener.as_raw_fd();
        let (val, error) = match reply {
            Ok(Reply::Value(v)) => (v, 0),
            Ok(Reply::Fd { fd: new, cloexec }) => {
                let add = libc::seccomp_notif_addfd {
                    id,
                    flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
                    srcfd: new.as_raw_fd() as u32,
                    newfd: 0,
                    newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
                };
                // SAFETY: NOTIF_ADDFD reads one local struct; with FLAG_SEND it also answers.
                if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_ADDFD, &add) } >= 0 {
                    return;
                }
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::ENOENT) | None => return,
                    Some(e) => (0, -e),
                }
            }
            Err(e) => (0, -e),
        };
        let resp = libc::seccomp_notif_resp {
            id,
            val,
            error,
            flags: 0,
        };
        // SAFETY: NOTIF_SEND reads one local struct. ENOENT (the call went away) is fine.
        unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
    }
}

/// `socket(domain, type, protocol)` made here, for inet TCP and UDP sockets only.
fn new_socket(domain: u64, kind: u64, protocol: u64) -> io::Result<Reply> {
    let (domain, kind, protocol) = (
        domain as libc::c_int,
        kind as libc::c_int,
        protocol as libc::c_int,
    );
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    let base = kind & !flags;
    let allowed = matches!(domain, libc::AF_INET | libc::AF_INET6)
        && match base {
            libc::SOCK_STREAM => matches!(protocol, 0 | libc::IPPROTO_TCP),
            libc::SOCK_DGRAM => matches!(protocol, 0 | libc::IPPROTO_UDP),
            _ => false,
        };
    if !allowed {
        return Err(errno(libc::EACCES));
    }
    // SAFETY: plain system call.
    let fd = unsafe {
        libc::socket(
            domain,
            base | (kind & libc::SOCK_NONBLOCK) | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    result(fd.into())?;
    Ok(Reply::Fd {
        // SAFETY: the kernel just made this descriptor for us.
        fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) },
        cloexec: kind & libc::SOCK_CLOEXEC != 0,
    })
}

/// Sends `data` on `sock` (to `addr`), never blocking this thread.
fn send(sock: &Socket, data: &[u8], addr: Option<SocketAddr>, flags: u64) -> io::Result<Reply> {
    let flags = flags as libc::c_int | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    let (storage, len) = raw(addr);
    let (ptr, len) = match addr {
        Some(_) => ((&raw const storage).cast(), len),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: `data` and the sockaddr are local and of the lengths given.
    let r = unsafe {
        libc::sendto(
            sock.fd.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            flags,
            ptr,
            len,
        )
    };
    result(r as i64)
}

/// The socket, if it is an inet one (the only kind the broker makes); EACCES otherwise.
fn inet(sock: Socket) -> io::Result<Socket> {
    if sock.is_inet() {
        Ok(sock)
    } else {
        Err(errno(libc::EACCES))
    }
}

/// How many bytes of a send to copy: the whole datagram (EMSGSIZE past [`MAX_SEND`]), or
/// up to [`MAX_SEND`] of a stream.
fn send_len(sock: &Socket, len: u64) -> io::Result<usize> {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if sock.kind == libc::SOCK_DGRAM && len > MAX_SEND {
        return Err(errno(libc::EMSGSIZE));
    }
    Ok(len.min(MAX_SEND))
}

/// A socket address's length, EINVAL past `sockaddr_storage`.
fn address_len(len: u64) -> io::Result<usize> {
    match usize::try_from(len) {
        Ok(n) if n <= size_of::<libc::sockaddr_storage>() => Ok(n),
        _ => Err(errno(libc::EINVAL)),
    }
}

fn result(r: i64) -> io::Result<Reply> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(Reply::Value(r))
    }
}

fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}
