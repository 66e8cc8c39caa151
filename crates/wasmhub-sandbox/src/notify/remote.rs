//! What the supervisor reads of a worker for one call: its memory (copied once, then only
//! the copy is used), its socket descriptors (duplicated), and socket addresses.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The most bytes one brokered send carries (a UDP datagram's maximum, and a TCP send is
/// cut to it: the worker sends the rest next).
pub(super) const MAX_SEND: usize = 65_536;

/// One thread of a worker that made a call.
pub(super) struct Task {
    tid: libc::pid_t,
    pidfd: OwnedFd,
}

impl Task {
    /// The thread `tid` (as the supervisor's pid namespace numbers it).
    pub(super) fn open(tid: u32) -> io::Result<Task> {
        let tid =
            libc::pid_t::try_from(tid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
        // SAFETY: plain system call; PIDFD_THREAD names one thread, not only a leader.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, libc::PIDFD_THREAD) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just made this descriptor for us.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        Ok(Task { tid, pidfd })
    }

    /// `len` bytes of its memory at `addr`.
    pub(super) fn read(&self, addr: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        if len == 0 {
            return Ok(buf);
        }
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: len,
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: `local` covers `buf`; the remote range is only read, by the kernel.
        let n = unsafe { libc::process_vm_readv(self.tid, &local, 1, &remote, 1, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != len {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        Ok(buf)
    }

    /// Its descriptor `fd`, duplicated into this process (close-on-exec).
    pub(super) fn socket(&self, fd: u64) -> io::Result<Socket> {
        let fd = RawFd::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        // SAFETY: plain system call on our pidfd.
        let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, self.pidfd.as_raw_fd(), fd, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just made this descriptor for us.
        let fd = unsafe { OwnedFd::from_raw_fd(dup as RawFd) };
        let int = |opt| -> io::Result<libc::c_int> {
            let mut v: libc::c_int = 0;
            let mut len = size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: getsockopt into a local int.
            let r = unsafe {
                libc::getsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&raw mut v).cast(),
                    &mut len,
                )
            };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(v)
        };
        let domain = int(libc::SO_DOMAIN)?;
        let kind = int(libc::SO_TYPE)?;
        Ok(Socket { fd, domain, kind })
    }
}

/// The supervisor's duplicate of one of a worker's sockets.
pub(super) struct Socket {
    pub(super) fd: OwnedFd,
    /// `AF_INET`, `AF_INET6`, `AF_UNIX`...
    pub(super) domain: libc::c_int,
    /// `SOCK_STREAM`, `SOCK_DGRAM`...
    pub(super) kind: libc::c_int,
}

impl Socket {
    /// Whether it is one the supervisor made for the worker (inet, stream or datagram).
    pub(super) fn is_inet(&self) -> bool {
        matches!(self.domain, libc::AF_INET | libc::AF_INET6)
            && matches!(self.kind, libc::SOCK_STREAM | libc::SOCK_DGRAM)
    }

    /// Its local address.
    pub(super) fn local_addr(&self) -> io::Result<SocketAddr> {
        // SAFETY: sockaddr_storage is plain old data; getsockname writes at most its size.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: as above.
        let r =
            unsafe { libc::getsockname(self.fd.as_raw_fd(), (&raw mut storage).cast(), &mut len) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the storage's bytes, as many as the kernel wrote.
        let bytes =
            unsafe { std::slice::from_raw_parts((&raw const storage).cast::<u8>(), len as usize) };
        parse(bytes)?.ok_or_else(|| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))
    }
}

/// An inet socket address from the bytes of a `sockaddr`: `Ok(None)` for `AF_UNSPEC` (a
/// datagram socket's disconnect), EAFNOSUPPORT for any other family, EINVAL if short.
pub(super) fn parse(bytes: &[u8]) -> io::Result<Option<SocketAddr>> {
    let family = bytes
        .get(..2)
        .map(|b| libc::sa_family_t::from_ne_bytes([b[0], b[1]]))
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let short = || io::Error::from_raw_os_error(libc::EINVAL);
    match libc::c_int::from(family) {
        libc::AF_UNSPEC => Ok(None),
        libc::AF_INET => {
            if bytes.len() < size_of::<libc::sockaddr_in>() {
                return Err(short());
            }
            // SAFETY: length checked; sockaddr_in is plain old data.
            let a: libc::sockaddr_in =
                unsafe { bytes.as_ptr().cast::<libc::sockaddr_in>().read_unaligned() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Ok(Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            ))))
        }
        libc::AF_INET6 => {
            if bytes.len() < size_of::<libc::sockaddr_in6>() {
                return Err(short());
            }
            // SAFETY: length checked; sockaddr_in6 is plain old data.
            let a: libc::sockaddr_in6 =
                unsafe { bytes.as_ptr().cast::<libc::sockaddr_in6>().read_unaligned() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Ok(Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            ))))
        }
        _ => Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
    }
}

/// A `sockaddr` for `addr` (`None`: `AF_UNSPEC`) and its length: what the supervisor
/// passes to the kernel is made from what it checked, never the worker's bytes.
pub(super) fn raw(addr: Option<SocketAddr>) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all zeroes is AF_UNSPEC.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        None => size_of::<libc::sockaddr>(),
        Some(SocketAddr::V4(a)) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in>().write(sin) };
            size_of::<libc::sockaddr_in>()
        }
        Some(SocketAddr::V6(a)) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in6>().write(sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_survive_the_round_trip_and_others_are_refused() {
        for addr in ["127.0.0.1:80", "[::1]:443", "[fe80::1%2]:9"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let (storage, len) = raw(Some(addr));
            // SAFETY: the first `len` bytes of a local struct.
            let bytes = unsafe {
                std::slice::from_raw_parts((&raw const storage).cast::<u8>(), len as usize)
            };
            assert_eq!(parse(bytes).unwrap(), Some(addr));
            assert_eq!(
                parse(&bytes[..len as usize - 1])
                    .unwrap_err()
                    .raw_os_error(),
                Some(libc::EINVAL)
            );
        }
        let unix = (libc::AF_UNIX as libc::sa_family_t).to_ne_bytes();
        assert_eq!(
            parse(&unix).unwrap_err().raw_os_error(),
            Some(libc::EAFNOSUPPORT)
        );
        assert_eq!(parse(&[0, 0]).unwrap(), None);
    }
}
