//! Socket grant rules: `tcp://HOST:PORT`, `udp://HOST:PORT`, used for `connect` and `bind`.

use std::fmt;
use std::net::IpAddr;

/// The transport a socket rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP only.
    Tcp,
    /// UDP only.
    Udp,
    /// Both (`*://`).
    Any,
}

/// The host part of a socket rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketHost {
    /// `*`: any address.
    Any,
    /// One IP address.
    Ip(IpAddr),
    /// A network, `10.0.0.0/8`: addresses sharing the first `prefix` bits.
    Net {
        /// The network address.
        addr: IpAddr,
        /// How many leading bits must match.
        prefix: u8,
    },
    /// A DNS name: the addresses it resolves to (name lookup is granted for it).
    Name(String),
}

/// Ports a socket rule covers: inclusive range; `*` is `0..=65535`, a number is itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// First port.
    pub first: u16,
    /// Last port.
    pub last: u16,
}

/// One granted socket destination (for `connect`) or local address (for `bind`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct SocketRule {
    /// TCP, UDP or both.
    pub transport: Transport,
    /// Which addresses.
    pub host: SocketHost,
    /// Which ports.
    pub ports: PortRange,
    text: String,
}

impl TryFrom<String> for SocketRule {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let bad = |why: &str| {
            Err(format!(
                "invalid socket rule `{text}`: {why}; write tcp://HOST:PORT or udp://HOST:PORT, \
                 e.g. \"tcp://127.0.0.1:5432\", \"udp://10.0.0.0/8:53\", \"tcp://db.internal:*\" \
                 or \"tcp://127.0.0.1:8000-8099\""
            ))
        };
        let Some((scheme, rest)) = text.split_once("://") else {
            return bad("the transport (tcp:// or udp://) is missing");
        };
        let transport = match scheme {
            "tcp" => Transport::Tcp,
            "udp" => Transport::Udp,
            "*" => Transport::Any,
            _ => return bad("the transport must be tcp, udp or *"),
        };
        let Some((host, port)) = split_host_port(rest) else {
            return bad("the port is missing (a number, a range a-b, or `*`)");
        };
        let ports = match port {
            // Any port, including 0 (an ephemeral port picked by the OS when binding).
            "*" => PortRange {
                first: 0,
                last: u16::MAX,
            },
            p => {
                let (a, b) = p.split_once('-').unwrap_or((p, p));
                match (a.parse::<u16>(), b.parse::<u16>()) {
                    (Ok(first), Ok(last)) if first > 0 && first <= last => {
                        PortRange { first, last }
                    }
                    _ => return bad("the port must be 1-65535, a range a-b, or `*`"),
                }
            }
        };
        let host = match parse_host(host) {
            Ok(h) => h,
            Err(why) => return bad(why),
        };
        Ok(Self {
            transport,
            host,
            ports,
            text,
        })
    }
}

/// Splits `HOST:PORT`, keeping `[v6]` literals and `v6/len` networks in brackets whole.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(inner) = s.strip_prefix('[') {
        let end = inner.find(']')?;
        let after = &inner[end + 1..];
        // `[fd00::]/8:53` keeps the prefix length with the host.
        let (suffix, port) = after.rsplit_once(':')?;
        let host_len = 1 + end + 1 + suffix.len();
        return Some((&s[..host_len], port));
    }
    s.rsplit_once(':')
}

fn parse_host(host: &str) -> Result<SocketHost, &'static str> {
    if host.is_empty() {
        return Err("the host is missing");
    }
    if host == "*" {
        return Ok(SocketHost::Any);
    }
    let unbracket = |h: &str| h.replace(['[', ']'], "");
    if let Some((addr, prefix)) = host.split_once('/') {
        let addr: IpAddr = unbracket(addr)
            .parse()
            .map_err(|_| "a network must be an IP address with /LENGTH")?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or("the network length is out of range")?;
        return Ok(SocketHost::Net { addr, prefix });
    }
    if let Ok(ip) = unbracket(host).parse::<IpAddr>() {
        return Ok(SocketHost::Ip(ip));
    }
    let name_ok = host
        .split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !name_ok {
        return Err("the host must be an IP address, a network, a DNS name or `*`");
    }
    Ok(SocketHost::Name(host.to_ascii_lowercase()))
}

impl SocketHost {
    /// Whether `ip` is covered, given the addresses a `Name` resolved to.
    pub fn contains(&self, ip: IpAddr, resolved: &[IpAddr]) -> bool {
        match self {
            Self::Any => true,
            Self::Ip(a) => *a == ip,
            Self::Net { addr, prefix } => in_network(*addr, *prefix, ip),
            Self::Name(_) => resolved.contains(&ip),
        }
    }
}

fn in_network(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

impl SocketRule {
    /// Whether the rule covers `transport` (which is `Tcp` or `Udp`) and `port`.
    pub fn covers(&self, transport: Transport, port: u16) -> bool {
        (self.transport == Transport::Any || self.transport == transport)
            && (self.ports.first..=self.ports.last).contains(&port)
    }
}

impl fmt::Display for SocketRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for SocketRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> SocketRule {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rules_cover_what_they_name() {
        let r = rule("tcp://127.0.0.1:5432");
        assert!(r.covers(Transport::Tcp, 5432));
        assert!(!r.covers(Transport::Udp, 5432));
        assert!(!r.covers(Transport::Tcp, 5433));
        assert!(r.host.contains(ip("127.0.0.1"), &[]));
        assert!(!r.host.contains(ip("127.0.0.2"), &[]));

        let r = rule("udp://10.0.0.0/8:53");
        assert!(r.host.contains(ip("10.200.1.1"), &[]));
        assert!(!r.host.contains(ip("11.0.0.1"), &[]));
        assert!(r.covers(Transport::Udp, 53));

        let r = rule("*://[::1]:8000-8099");
        assert_eq!(r.host, SocketHost::Ip(ip("::1")));
        assert!(r.covers(Transport::Tcp, 8050) && r.covers(Transport::Udp, 8099));
        assert!(!r.covers(Transport::Tcp, 8100));

        let r = rule("tcp://[fd00::]/8:*");
        assert!(r.host.contains(ip("fd12::1"), &[]));
        assert!(!r.host.contains(ip("fe80::1"), &[]));

        let r = rule("tcp://DB.internal:5432");
        assert_eq!(r.host, SocketHost::Name("db.internal".into()));
        assert!(r.host.contains(ip("10.1.1.1"), &[ip("10.1.1.1")]));
        assert!(!r.host.contains(ip("10.1.1.2"), &[ip("10.1.1.1")]));
        assert!(rule("tcp://0.0.0.0/0:*").host.contains(ip("8.8.8.8"), &[]));
    }

    #[test]
    fn bad_rules_are_explained() {
        for bad in [
            "127.0.0.1:80",
            "http://127.0.0.1:80",
            "tcp://127.0.0.1",
            "tcp://127.0.0.1:0",
            "tcp://127.0.0.1:90-80",
            "tcp://:80",
            "tcp://10.0.0.0/33:1",
            "tcp://bad_name:1",
        ] {
            let err = bad.parse::<SocketRule>().unwrap_err();
            assert!(err.contains("tcp://HOST:PORT"), "{bad}: {err}");
        }
    }
}
