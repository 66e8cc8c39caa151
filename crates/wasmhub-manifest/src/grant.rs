//! Grant values shared by CLI flags and the manifest: env variables and directories.

use std::path::PathBuf;
use std::str::FromStr;

/// One environment variable: a fixed value, or inherited from the host by name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum EnvGrant {
    /// `NAME=VALUE`.
    Value {
        /// Variable name.
        name: String,
        /// Its value.
        value: String,
    },
    /// `NAME`: the host's value, if it has one.
    Inherit {
        /// Variable name.
        name: String,
    },
}

/// A host directory shown to the guest at `guest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// Directory on the host.
    pub host: PathBuf,
    /// Path the guest opens it by.
    pub guest: String,
    /// Read-only or read-write.
    pub mode: DirMode,
}

/// Access to a granted directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum DirMode {
    /// Read only.
    #[serde(rename = "ro")]
    ReadOnly,
    /// Read and write.
    #[serde(rename = "rw")]
    ReadWrite,
}

/// A grant written wrongly.
#[derive(Debug, thiserror::Error)]
pub enum GrantParseError {
    /// An env grant with an empty name.
    #[error("invalid env grant `{0}`: expected NAME or NAME=VALUE with a non-empty NAME")]
    Env(String),
    /// A dir grant without the `HOST::GUEST` shape.
    #[error("invalid dir grant `{0}`: expected HOST::GUEST, HOST::GUEST:ro or HOST::GUEST:rw")]
    Dir(String),
}

impl FromStr for EnvGrant {
    type Err = GrantParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || GrantParseError::Env(s.to_owned());
        match s.split_once('=') {
            Some(("", _)) => Err(bad()),
            Some((name, value)) => Ok(Self::Value {
                name: name.to_owned(),
                value: value.to_owned(),
            }),
            None if s.is_empty() => Err(bad()),
            None => Ok(Self::Inherit { name: s.to_owned() }),
        }
    }
}

impl TryFrom<String> for EnvGrant {
    type Error = GrantParseError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl FromStr for DirGrant {
    type Err = GrantParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || GrantParseError::Dir(s.to_owned());
        let (host, rest) = s.split_once("::").ok_or_else(bad)?;
        let (guest, mode) = match rest.rsplit_once(':') {
            Some((guest, "ro")) => (guest, DirMode::ReadOnly),
            Some((guest, "rw")) => (guest, DirMode::ReadWrite),
            _ => (rest, DirMode::ReadWrite),
        };
        if host.is_empty() || guest.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            host: PathBuf::from(host),
            guest: guest.to_owned(),
            mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_grants_parse() {
        assert_eq!(
            "A=b=c".parse::<EnvGrant>().unwrap(),
            EnvGrant::Value {
                name: "A".into(),
                value: "b=c".into()
            }
        );
        assert_eq!(
            "TZ".parse::<EnvGrant>().unwrap(),
            EnvGrant::Inherit { name: "TZ".into() }
        );
        assert!("=x".parse::<EnvGrant>().is_err());
        assert!("".parse::<EnvGrant>().is_err());
    }

    #[test]
    fn dir_grants_parse() {
        let g: DirGrant = "data::/data:ro".parse().unwrap();
        assert_eq!(g.host, PathBuf::from("data"));
        assert_eq!(g.guest, "/data");
        assert_eq!(g.mode, DirMode::ReadOnly);
        let g: DirGrant = "/tmp/x::/x".parse().unwrap();
        assert_eq!(g.mode, DirMode::ReadWrite);
        assert_eq!(g.guest, "/x");
        let err = "data:/data".parse::<DirGrant>().unwrap_err().to_string();
        assert!(err.contains("HOST::GUEST"), "{err}");
        assert!("::/x".parse::<DirGrant>().is_err());
    }
}
