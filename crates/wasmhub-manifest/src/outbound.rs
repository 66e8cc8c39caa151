//! Outbound HTTP allow-list rules in Spin's `allowed_outbound_hosts` syntax.

use std::fmt;

/// `scheme://host:port`, where scheme, host and port may be `*` and host may be `*.domain`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct OutboundRule {
    scheme: Option<String>,
    host: HostPattern,
    port: Port,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Suffix(String),
    Exact(String),
}

/// A port in a rule: one number or any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// Any port.
    Any,
    /// Exactly this one.
    Number(u16),
}

impl TryFrom<String> for OutboundRule {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let bad = |why: &str| {
            Err(format!(
                "invalid outbound rule `{text}`: {why}; write scheme://host[:port], e.g. \
                 \"https://api.example.com\", \"http://127.0.0.1:8081\", \"https://*.example.com\" \
                 or \"*://*:*\" for everything"
            ))
        };
        if text == "insecure:allow-all" {
            return bad("allow-all is spelled `*://*:*` here, so that it reads as what it is");
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return bad("the scheme is missing");
        };
        let scheme = match scheme {
            "*" => None,
            "http" | "https" => Some(scheme.to_owned()),
            _ => return bad("the scheme must be http, https or *"),
        };
        if rest.contains('/') {
            return bad("a rule names a host, not a path");
        }
        let (host, port) = split_port(rest);
        let port = match port {
            None => match scheme.as_deref() {
                Some("http") => Port::Number(80),
                Some("https") => Port::Number(443),
                _ => return bad("with scheme `*`, name the port (a number or `*`)"),
            },
            Some("*") => Port::Any,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Port::Number(n),
                _ => return bad("the port must be 1-65535 or `*`"),
            },
        };
        let host = match host {
            "" => return bad("the host is missing"),
            "*" => HostPattern::Any,
            h if h.starts_with("*.") && h.len() > 2 && !h[2..].contains('*') => {
                HostPattern::Suffix(h[1..].to_ascii_lowercase())
            }
            h if h.contains('*') => {
                return bad("`*` stands only for a whole host or a leading `*.`");
            }
            h => HostPattern::Exact(h.to_ascii_lowercase()),
        };
        Ok(Self {
            scheme,
            host,
            port,
            text,
        })
    }
}

/// Splits `host:port`, keeping `[v6]` literals whole.
fn split_port(s: &str) -> (&str, Option<&str>) {
    if let Some(end) = s.strip_prefix('[').and_then(|r| r.find(']')) {
        let host = &s[..end + 2];
        return (host, s[end + 2..].strip_prefix(':'));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    }
}

impl OutboundRule {
    /// Whether a request to `scheme://host:port` is allowed by this rule.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.scheme.as_deref().is_none_or(|s| s == scheme)
            && match self.port {
                Port::Any => true,
                Port::Number(n) => n == port,
            }
            && match &self.host {
                HostPattern::Any => true,
                HostPattern::Suffix(suffix) => host.ends_with(suffix.as_str()),
                HostPattern::Exact(h) => *h == host,
            }
    }
}

impl std::str::FromStr for OutboundRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl fmt::Display for OutboundRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> OutboundRule {
        OutboundRule::try_from(s.to_owned()).unwrap()
    }

    #[test]
    fn rules_allow_what_they_name() {
        let r = rule("http://127.0.0.1:8081");
        assert!(r.allows("http", "127.0.0.1", 8081));
        assert!(!r.allows("http", "127.0.0.1", 8082));
        assert!(!r.allows("https", "127.0.0.1", 8081));
        let r = rule("https://*.example.com");
        assert!(r.allows("https", "api.Example.com", 443));
        assert!(!r.allows("https", "example.com", 443));
        assert!(!r.allows("https", "evil-example.com", 443));
        assert!(!r.allows("https", "api.example.com", 8443));
        let all = rule("*://*:*");
        assert!(all.allows("http", "anything", 1));
        assert!(rule("http://[::1]:8080").allows("http", "[::1]", 8080));
    }

    #[test]
    fn bad_rules_are_explained() {
        for bad in [
            "insecure:allow-all",
            "example.com",
            "ftp://x",
            "*://x",
            "http://x/path",
            "http://x:0",
            "http://ex*ample.com",
            "http://",
        ] {
            let err = OutboundRule::try_from(bad.to_owned()).unwrap_err();
            assert!(err.contains("scheme://host[:port]"), "{bad}: {err}");
        }
    }
}
