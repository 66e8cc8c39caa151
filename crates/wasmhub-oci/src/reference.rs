//! Component references: `[oci://]REGISTRY/REPOSITORY(:TAG | @sha256:HEX | :TAG@sha256:HEX)`.

use std::fmt;

use crate::digest::Digest;

/// Where a component lives in a registry.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Reference {
    /// `host[:port]`.
    pub registry: String,
    /// `namespace/name`, lowercase, `/`-separated.
    pub repository: String,
    /// The tag, if given.
    pub tag: Option<String>,
    /// The manifest digest, if given (it wins over the tag).
    pub digest: Option<Digest>,
}

/// The scheme a reference may carry in a manifest or on the command line.
pub const SCHEME: &str = "oci://";

const EXAMPLE: &str = "127.0.0.1:5000/acme/cart:1.2.0 or 127.0.0.1:5000/acme/cart@sha256:<64 hex>";

impl Reference {
    /// Parses a reference, with or without `oci://`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("reference {text:?} {why}: write it as {EXAMPLE}");
        let rest = text.strip_prefix(SCHEME).unwrap_or(text);
        if rest.contains("://") {
            return Err(bad("has a scheme other than oci://"));
        }
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) => (
                r,
                Some(Digest::parse(d).map_err(|e| bad(&format!("has a bad digest ({e})")))?),
            ),
            None => (rest, None),
        };
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("names no registry"))?;
        if !is_registry_host(registry) {
            return Err(bad(
                "has no valid registry host (a host name or IP address, then an optional :PORT)",
            ));
        }
        // A tag follows the last `:` of the path (a registry port is before the first `/`).
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) => (repo, Some(tag)),
            None => (path, None),
        };
        if repository.is_empty()
            || !repository.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                    && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            })
        {
            return Err(bad(
                "has an invalid repository (lowercase letters, digits, `.`, `_`, `-`, `/`-separated)",
            ));
        }
        if let Some(tag) = tag
            && (tag.is_empty()
                || tag.len() > 128
                || !tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c)))
        {
            return Err(bad("has an invalid tag"));
        }
        if tag.is_none() && digest.is_none() {
            return Err(bad("has neither a tag nor a digest"));
        }
        Ok(Self {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// Whether `text` is written as a reference (`oci://...`) rather than a file path.
    pub fn is_reference(text: &str) -> bool {
        text.starts_with(SCHEME)
    }

    /// Whether the registry is on this machine (plain HTTP is allowed there).
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => self.registry.as_str(),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// The same repository at `digest`.
    pub fn at(&self, digest: &Digest) -> Self {
        Self {
            digest: Some(digest.clone()),
            ..self.clone()
        }
    }

    /// The tag or digest part as the registry API takes it.
    pub fn tag_or_digest(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => unreachable!("parse requires a tag or a digest"),
        }
    }
}

/// Whether `text` is `HOST[:PORT]`: DNS labels (letters, digits, inner `-`) joined by single
/// dots, or a bracketed IPv6 address. Nothing else passes, so `.`, `..` and other names that
/// would step outside `refs/` in the content store are refused here.
fn is_registry_host(text: &str) -> bool {
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) if !h.starts_with('[') || h.ends_with(']') => (h, Some(p)),
        _ => (text, None),
    };
    if port.is_some_and(|p| p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_digests_and_ports() {
        let r = Reference::parse("oci://127.0.0.1:5000/acme/cart:1.2.0").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "acme/cart", Some("1.2.0"))
        );
        assert!(r.is_loopback());
        assert_eq!(r.to_string(), "127.0.0.1:5000/acme/cart:1.2.0");
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = Reference::parse(&format!("ghcr.io/acme/cart@{d}")).unwrap();
        assert_eq!(r.digest.as_ref().unwrap().to_string(), d);
        assert!(!r.is_loopback());
        assert_eq!(r.tag_or_digest(), d);
        assert!(Reference::parse("localhost/a:1").unwrap().is_loopback());
    }

    #[test]
    fn refuses_with_the_reason() {
        let e = |t: &str| Reference::parse(t).unwrap_err();
        assert!(
            e("cart:1.0").contains("names no registry"),
            "{}",
            e("cart:1.0")
        );
        assert!(e("r.io/Acme/cart:1").contains("invalid repository"));
        assert!(e("r.io/acme/cart").contains("neither a tag nor a digest"));
        assert!(e("r.io/acme/cart@sha256:12").contains("bad digest"));
        assert!(e("https://r.io/a:1").contains("scheme other than oci://"));
        assert!(e("r.io/a:").contains("invalid tag"));
    }

    #[test]
    fn registries_that_are_not_hosts_are_refused() {
        for bad in [
            "../acme/cart:1.0.0",
            "./acme/cart:1.0.0",
            "oci://../acme/cart:1.0.0",
            "..:5000/acme/cart:1.0.0",
            ".../acme/cart:1.0.0",
            ".r.io/acme/cart:1.0.0",
            "r.io./acme/cart:1.0.0",
            "r..io/acme/cart:1.0.0",
            "-r.io/acme/cart:1.0.0",
            "r.io:/acme/cart:1.0.0",
            "r.io:port/acme/cart:1.0.0",
            "[::1/acme/cart:1.0.0",
            "[nope]:5000/acme/cart:1.0.0",
            ":5000/acme/cart:1.0.0",
        ] {
            let e = Reference::parse(bad).unwrap_err();
            assert!(e.contains("has no valid registry host"), "{bad}: {e}");
        }
        for good in [
            "localhost/a:1",
            "localhost:5000/a:1",
            "127.0.0.1:5000/a:1",
            "[::1]:5000/a:1",
            "[::1]/a:1",
            "ghcr.io/acme/cart:1",
            "my-registry.example.com:443/a/b:1",
        ] {
            Reference::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    /// What the content store relies on (the `oci_reference` fuzz target's inputs hold it
    /// too): every parsed reference's registry and repository parts are plain path
    /// components, never `.`, `..`, empty or containing a separator.
    #[test]
    fn parsed_names_are_plain_path_components() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/oci_reference");
        let mut inputs: Vec<String> = std::fs::read_dir(corpus)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect();
        for registry in [
            "..", ".", "a", "a.b", "[::1]", "a:1", "..:1", "%2e%2e", "a/..",
        ] {
            for repo in ["..", ".", "x", "x/..", "../x", "x/./y", "x//y"] {
                inputs.push(format!("{registry}/{repo}:1.0.0"));
            }
        }
        for text in &inputs {
            let Ok(r) = Reference::parse(text.trim()) else {
                continue;
            };
            for part in std::iter::once(r.registry.as_str()).chain(r.repository.split('/')) {
                let mut components = std::path::Path::new(part).components();
                assert!(
                    matches!(
                        (components.next(), components.next()),
                        (Some(std::path::Component::Normal(_)), None)
                    ),
                    "{text:?} gives path part {part:?}"
                );
            }
        }
    }
}
