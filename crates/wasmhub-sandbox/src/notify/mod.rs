//! Sockets for a worker whose tenant is granted some: the worker's network namespace is
//! empty, so its socket calls are made by its supervisor, in the host's, after checking
//! them against the tenant's grants.
//!
//! The worker ([`crate::enter`], when [`crate::Policy::socket_broker`] is set) installs a
//! seccomp filter that hands these calls to a listener instead of running them (seccomp
//! user notification): `socket`, `connect`, `bind`, `listen`, and `sendto` with an
//! address (its allowlist has no `sendmsg`, whose address seccomp cannot see). It sends the listener to its supervisor over that Unix socket and
//! keeps no copy. The supervisor ([`SocketBroker`]) makes each call itself: a new inet
//! socket is made in its own namespace and put into the worker's descriptor table as the
//! call's result; a connect, bind, listen or send is made on its own duplicate of the
//! worker's socket, with the address it copied from the worker and checked, so a worker
//! that rewrites its memory meanwhile changes nothing. A refused call fails with EACCES.
//! Everything else on those sockets (reads, writes, accept, options) runs in the worker.

mod broker;
mod remote;

pub use broker::{SocketBroker, SocketOp, SocketUse};

use std::os::fd::{FromRawFd, OwnedFd};

use crate::SandboxError;
use crate::error::check;

/// The calls handed to the supervisor (`sendto` only with an address: see [`filter`]).
const BROKERED: [libc::c_long; 4] = [
    libc::SYS_socket,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_listen,
];

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64

/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 5.19): once the supervisor has taken a
/// call, only a fatal signal interrupts the worker's wait, so a call is never made twice.
const WAIT_KILLABLE_RECV: libc::c_ulong = 1 << 5;

// Classic BPF opcodes.
const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG4_LOW: u32 = 16 + 4 * 8;
const ARG4_HIGH: u32 = ARG4_LOW + 4;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jeq(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    }
}

/// The program: the [`BROKERED`] calls, and `sendto` whose address (argument 4) is not
/// NULL, answer `SECCOMP_RET_USER_NOTIF`; everything else `ALLOW` (the worker's allowlist,
/// a filter of its own, decides those; the kernel takes the strictest answer, and
/// USER_NOTIF is stricter than ALLOW but not than KILL, so that list must allow these
/// calls for them to reach the supervisor).
fn filter() -> Vec<libc::sock_filter> {
    let notify = BROKERED.len() as u8 + 6; // from the instruction after `ld nr`
    let mut p = vec![
        stmt(LD_W_ABS, ARCH),
        // Another architecture: not ours to broker (the allowlist kills it).
        jeq(AUDIT_ARCH, 0, BROKERED.len() as u8 + 6),
        stmt(LD_W_ABS, NR),
    ];
    for (i, &sys) in BROKERED.iter().enumerate() {
        // The i-th test jumps over the rest to the USER_NOTIF return.
        p.push(jeq(sys as u32, notify - 1 - i as u8, 0));
    }
    p.extend([
        jeq(libc::SYS_sendto as u32, 0, 4),
        stmt(LD_W_ABS, ARG4_LOW),
        jeq(0, 0, 3),
        stmt(LD_W_ABS, ARG4_HIGH),
        jeq(0, 0, 1),
        stmt(RET_K, libc::SECCOMP_RET_ALLOW),
        stmt(RET_K, libc::SECCOMP_RET_USER_NOTIF),
    ]);
    p
}

/// Installs the filter on the calling thread (and the threads it starts later) and returns
/// its listener. Needs `no_new_privs` (or CAP_SYS_ADMIN) and a kernel with seccomp user
/// notification (5.19+).
pub(crate) fn install() -> Result<OwnedFd, SandboxError> {
    let mut program = filter();
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `program`, alive for the call.
    let fd = check(
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | WAIT_KILLABLE_RECV,
                &prog,
            )
        },
        "install the socket-call filter (seccomp user notification, Linux 5.19+)",
    )?;
    // SAFETY: the kernel just made this descriptor for us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on `data` as the kernel would (the few opcodes it uses).
    fn run(p: &[libc::sock_filter], data: &[u32; 16]) -> u32 {
        let (mut pc, mut a) = (0usize, 0u32);
        loop {
            let i = p[pc];
            match i.code {
                LD_W_ABS => a = data[i.k as usize / 4],
                JEQ_K => {
                    pc += usize::from(if a == i.k { i.jt } else { i.jf });
                }
                RET_K => return i.k,
                other => panic!("opcode {other}"),
            }
            pc += 1;
        }
    }

    fn call(nr: libc::c_long, arg4: u64) -> [u32; 16] {
        let mut d = [0u32; 16];
        d[0] = nr as u32;
        d[1] = AUDIT_ARCH;
        d[ARG4_LOW as usize / 4] = arg4 as u32;
        d[ARG4_HIGH as usize / 4] = (arg4 >> 32) as u32;
        d
    }

    #[test]
    fn the_filter_hands_over_exactly_the_socket_calls() {
        let p = filter();
        for sys in BROKERED {
            assert_eq!(
                run(&p, &call(sys, 0)),
                libc::SECCOMP_RET_USER_NOTIF,
                "{sys}"
            );
        }
        for addr in [1, 1 << 32, u64::MAX] {
            let sendto = call(libc::SYS_sendto, addr);
            assert_eq!(run(&p, &sendto), libc::SECCOMP_RET_USER_NOTIF);
        }
        for sys in [
            libc::SYS_sendto,
            libc::SYS_read,
            libc::SYS_recvfrom,
            libc::SYS_accept4,
            libc::SYS_openat,
        ] {
            assert_eq!(run(&p, &call(sys, 0)), libc::SECCOMP_RET_ALLOW, "{sys}");
        }
        let mut foreign = call(libc::SYS_socket, 0);
        foreign[1] = 0x4000_0003;
        assert_eq!(run(&p, &foreign), libc::SECCOMP_RET_ALLOW);
    }
}
