//! Passing a descriptor over a Unix socket (SCM_RIGHTS): code to a worker, a worker's
//! socket-call listener to its supervisor.

use std::io;
use std::os::fd::RawFd;

const SPACE: usize = 64; // >= CMSG_SPACE(sizeof(int))

/// Sends `fd` with one byte over the socket `sock`.
pub fn send_fd(sock: RawFd, fd: RawFd) -> io::Result<()> {
    let mut byte = [b'c'];
    let mut buf = [0u8; SPACE];
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as usize;
    let mut iov = one_byte(&mut byte);
    let msg = header(&mut iov, &mut buf, space);
    // SAFETY: `msg` points at the local buffers above; CMSG_* walk within `buf`.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as usize;
        libc::CMSG_DATA(cmsg).cast::<RawFd>().write_unaligned(fd);
        if libc::sendmsg(sock, &msg, 0) != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Receives one descriptor sent by [`send_fd`] (close-on-exec).
pub fn recv_fd(sock: RawFd) -> io::Result<RawFd> {
    let mut byte = [0u8];
    let mut buf = [0u8; SPACE];
    let mut iov = one_byte(&mut byte);
    let mut msg = header(&mut iov, &mut buf, SPACE);
    // SAFETY: `msg` points at the local buffers above; CMSG_* walk within `buf`.
    unsafe {
        match libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) {
            1 => {}
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            _ => return Err(io::Error::last_os_error()),
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err(io::Error::other("no descriptor in the message"));
        }
        Ok(libc::CMSG_DATA(cmsg).cast::<RawFd>().read_unaligned())
    }
}

/// An iovec over `byte`.
fn one_byte(byte: &mut [u8; 1]) -> libc::iovec {
    libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    }
}

/// A message of `iov` with the first `control` bytes of `buf` for its control data.
fn header(iov: &mut libc::iovec, buf: &mut [u8; SPACE], control: usize) -> libc::msghdr {
    // SAFETY: msghdr is plain old data; all zeroes is an empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf.as_mut_ptr().cast();
    msg.msg_controllen = control;
    msg
}
