//! A worker's sockets, made by its server: for a tenant granted sockets, the worker sends
//! its socket-call listener first on its outbound socket (before any HTTP/2), and the
//! server answers its socket calls on a thread of their own with
//! [`wasmhub_sandbox::SocketBroker`], checking each against the union of the tenant's
//! components' socket grants (the worker checks each component's own grants first; this
//! is the wall behind that check, for a worker that no longer makes it).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use wasmhub_app::AppComponent;
use wasmhub_caps::{Granted, SocketPolicy, SocketRule};
use wasmhub_sandbox::{SocketBroker, SocketOp, SocketUse};
use wasmtime_wasi::sockets::SocketAddrUse;

/// The variable telling a worker its tenant is granted sockets (so it hands its socket
/// calls to the server instead of being killed by them).
pub const WORKER_SOCKETS_ENV: &str = "WASMHUB_WORKER_SOCKETS";

/// The socket grants of a tenant's components together, if any has some.
pub(crate) fn tenant_sockets<'a>(
    members: impl Iterator<Item = &'a AppComponent> + Clone,
) -> Option<SocketPolicy> {
    let rules = |pick: fn(&'a AppComponent) -> &'a [Granted<SocketRule>]| {
        members.clone().flat_map(pick).cloned().collect::<Vec<_>>()
    };
    let connect = rules(|c| &c.grants.connect);
    let bind = rules(|c| &c.grants.bind);
    (!connect.is_empty() || !bind.is_empty()).then(|| SocketPolicy::new(&connect, &bind))
}

/// Receives the worker's listener from `stream` (the first thing it sends) and answers its
/// socket calls until it ends, each only if `policy` allows it (refusals are logged: the
/// worker's own check refuses them first, so only a worker that skipped it gets there).
pub(crate) async fn broker(
    stream: &tokio::net::UnixStream,
    policy: SocketPolicy,
    tenant: Arc<str>,
) -> std::io::Result<()> {
    let fd = loop {
        stream.readable().await?;
        match stream.try_io(tokio::io::Interest::READABLE, || {
            wasmhub_sandbox::recv_fd(stream.as_raw_fd())
        }) {
            Ok(fd) => break fd,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    };
    // SAFETY: recv_fd made this descriptor for us.
    let listener = unsafe { OwnedFd::from_raw_fd(fd) };
    let name = format!("wasmhub-sockets-{tenant}");
    let runtime = tokio::runtime::Handle::current();
    let broker = SocketBroker::new(listener, move |u| {
        // Rules naming a host are refused for process isolation: no check waits on a lookup.
        let ok = runtime.block_on(policy.check(u.addr, usage(u)));
        if !ok {
            tracing::warn!(%tenant, op = ?u.op, tcp = u.tcp, addr = %u.addr, "a worker made a socket call its tenant is not granted; refused");
        }
        ok
    });
    std::thread::Builder::new()
        .name(name)
        .spawn(move || broker.run())?;
    Ok(())
}

/// What Wasmtime calls `u` when it checks a component's grants.
fn usage(u: &SocketUse) -> SocketAddrUse {
    match (u.op, u.tcp) {
        (SocketOp::Connect | SocketOp::Send, true) => SocketAddrUse::TcpConnect,
        (SocketOp::Connect | SocketOp::Send, false) => SocketAddrUse::UdpSend,
        (SocketOp::Bind, true) => SocketAddrUse::TcpBind,
        (SocketOp::Bind, false) => SocketAddrUse::UdpBind,
        (SocketOp::Listen, _) => SocketAddrUse::TcpListen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmhub_caps::Origin;

    #[test]
    fn a_workers_socket_calls_are_checked_as_wasmtime_checks_a_components() {
        let rule = |s: &str| Granted::new(s.parse().unwrap(), Origin::Flag("--connect".into()));
        let policy = SocketPolicy::new(
            &[rule("tcp://127.0.0.1:80"), rule("udp://10.0.0.1:53")],
            &[rule("tcp://0.0.0.0:8080")],
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ok = |op, tcp, addr: &str| {
            let addr = addr.parse().unwrap();
            rt.block_on(policy.check(addr, usage(&SocketUse { op, tcp, addr })))
        };
        use SocketOp::{Bind, Connect, Listen, Send};
        assert!(ok(Connect, true, "127.0.0.1:80"));
        assert!(!ok(Connect, true, "127.0.0.1:81"));
        assert!(!ok(Connect, false, "127.0.0.1:80"), "UDP to a TCP rule");
        assert!(ok(Connect, false, "10.0.0.1:53"));
        assert!(ok(Send, false, "10.0.0.1:53"));
        assert!(
            !ok(Send, true, "10.0.0.1:53"),
            "a TCP fast open to a UDP rule"
        );
        assert!(ok(Bind, true, "0.0.0.0:8080"));
        assert!(ok(Listen, true, "0.0.0.0:8080"));
        assert!(!ok(Listen, true, "0.0.0.0:9090"));
        assert!(!ok(Bind, true, "127.0.0.1:9090"));
        assert!(
            ok(Bind, false, "0.0.0.0:0"),
            "the implicit bind before a send"
        );
    }
}
