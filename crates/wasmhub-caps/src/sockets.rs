//! Socket grants enforced at run time: every connect, send, bind and listen is checked.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use wasmhub_app::{Granted, SocketHost, SocketRule, Transport};
use wasmtime_wasi::sockets::SocketAddrUse;

use crate::denials::{Denials, Denied};

/// The connect and bind rules of one component, checked against each socket use.
#[derive(Debug, Clone)]
pub struct SocketPolicy {
    connect: Arc<[SocketRule]>,
    bind: Arc<[SocketRule]>,
    denials: Option<Arc<Denials>>,
}

type Check = Pin<Box<dyn Future<Output = bool> + Send + Sync>>;

impl SocketPolicy {
    /// The policy for these grants.
    pub fn new(connect: &[Granted<SocketRule>], bind: &[Granted<SocketRule>]) -> Self {
        let values = |v: &[Granted<SocketRule>]| v.iter().map(|g| g.value.clone()).collect();
        Self {
            connect: values(connect),
            bind: values(bind),
            denials: None,
        }
    }

    /// The same policy, reporting what it denies to `denials`.
    pub fn reporting_to(self, denials: Arc<Denials>) -> Self {
        Self {
            denials: Some(denials),
            ..self
        }
    }

    /// The check wasmtime-wasi calls before each socket operation.
    pub fn check(&self, addr: SocketAddr, usage: SocketAddrUse) -> Check {
        let (transport, rules, implicit_ok) = match usage {
            SocketAddrUse::TcpConnect => (Transport::Tcp, &self.connect, false),
            // Binding the wildcard address to port 0 is what connect does implicitly; it
            // reaches nothing by itself (listening and sending are checked on their own).
            SocketAddrUse::TcpBind => (Transport::Tcp, &self.bind, true),
            SocketAddrUse::TcpListen => (Transport::Tcp, &self.bind, false),
            // Accepting on a granted listener: the listener is what was granted.
            SocketAddrUse::TcpAccept => return Box::pin(async { true }),
            SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => {
                (Transport::Udp, &self.connect, false)
            }
            SocketAddrUse::UdpBind => (Transport::Udp, &self.bind, true),
        };
        if implicit_ok && addr.ip().is_unspecified() && addr.port() == 0 {
            return Box::pin(async { true });
        }
        let denials = self.denials.clone();
        let rules: Vec<SocketRule> = rules
            .iter()
            .filter(|r| r.covers(transport, addr.port()))
            .cloned()
            .collect();
        Box::pin(async move {
            for rule in &rules {
                let resolved = match &rule.host {
                    SocketHost::Name(name) => resolve(name).await,
                    _ => Vec::new(),
                };
                if rule.host.contains(addr.ip(), &resolved) {
                    return true;
                }
            }
            if let Some(denials) = denials {
                denials.deny(&denied(addr, usage));
            }
            false
        })
    }
}

/// The denial of `usage` at `addr`, with the rule that would allow it.
fn denied(addr: SocketAddr, usage: SocketAddrUse) -> Denied {
    let (verb, scheme, bind) = match usage {
        SocketAddrUse::TcpConnect => ("connect to", "tcp", false),
        SocketAddrUse::TcpBind => ("bind", "tcp", true),
        SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => ("listen on", "tcp", true),
        SocketAddrUse::UdpSend => ("send to", "udp", false),
        SocketAddrUse::UdpReceive => ("receive from", "udp", false),
        SocketAddrUse::UdpBind => ("bind", "udp", true),
    };
    Denied::socket(verb, format!("{scheme}://{addr}"), bind)
}

/// The addresses `name` resolves to now, for rules that name a host.
async fn resolve(name: &str) -> Vec<IpAddr> {
    match tokio::net::lookup_host((name, 0)).await {
        Ok(addrs) => addrs.map(|a| a.ip()).collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmhub_app::Origin;

    fn policy(connect: &[&str], bind: &[&str]) -> SocketPolicy {
        let rules = |v: &[&str]| -> Vec<Granted<SocketRule>> {
            v.iter()
                .map(|r| Granted::new(r.parse().unwrap(), Origin::Default("test")))
                .collect()
        };
        SocketPolicy::new(&rules(connect), &rules(bind))
    }

    fn allowed(p: &SocketPolicy, addr: &str, usage: SocketAddrUse) -> bool {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(p.check(addr.parse().unwrap(), usage))
    }

    #[test]
    fn connect_grants_allow_only_their_destinations() {
        let p = policy(&["tcp://127.0.0.1:5432"], &[]);
        assert!(allowed(&p, "127.0.0.1:5432", SocketAddrUse::TcpConnect));
        assert!(!allowed(&p, "127.0.0.1:5433", SocketAddrUse::TcpConnect));
        assert!(!allowed(&p, "127.0.0.1:5432", SocketAddrUse::UdpSend));
        // The implicit bind a connect performs, but no listening.
        assert!(allowed(&p, "0.0.0.0:0", SocketAddrUse::TcpBind));
        assert!(!allowed(&p, "0.0.0.0:8080", SocketAddrUse::TcpBind));
        assert!(!allowed(&p, "0.0.0.0:0", SocketAddrUse::TcpListen));
        // An ephemeral wildcard bind reaches nothing: sending is what the rules decide.
        assert!(allowed(&p, "0.0.0.0:0", SocketAddrUse::UdpBind));
        assert!(
            !allowed(&p, "127.0.0.1:5432", SocketAddrUse::UdpSend),
            "no UDP grant"
        );
        assert!(!allowed(&p, "127.0.0.1:0", SocketAddrUse::UdpBind));
    }

    #[test]
    fn bind_grants_allow_listening_there() {
        let p = policy(&[], &["tcp://127.0.0.1:8000-8099"]);
        assert!(allowed(&p, "127.0.0.1:8080", SocketAddrUse::TcpBind));
        assert!(allowed(&p, "127.0.0.1:8080", SocketAddrUse::TcpListen));
        assert!(!allowed(&p, "0.0.0.0:8080", SocketAddrUse::TcpBind));
        assert!(!allowed(&p, "127.0.0.1:8080", SocketAddrUse::TcpConnect));
    }
}
