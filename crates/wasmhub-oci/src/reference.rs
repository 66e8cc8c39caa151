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
        if registry.is_empty()
            || !registry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        {
            return Err(bad("has no valid registry host"));
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
}
