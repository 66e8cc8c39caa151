//! The `Grants` a component runs with, and how they become a `WasiCtx`.

use std::path::PathBuf;
use std::str::FromStr;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// Everything a component may touch beyond its own memory; empty means nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Environment variables the guest sees.
    pub env: Vec<EnvGrant>,
    /// Host directories the guest sees, at guest paths.
    pub dirs: Vec<DirGrant>,
    /// Arguments the guest sees (`argv[0]` first).
    pub args: Vec<String>,
    /// Whether the guest's stdin, stdout and stderr are the host process's.
    pub inherit_stdio: bool,
}

/// One environment variable: a fixed value, or inherited from the host by name.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirMode {
    /// Read only.
    ReadOnly,
    /// Read and write.
    ReadWrite,
}

/// A grant that is malformed or cannot be honoured.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// `--env` with an empty or invalid name.
    #[error(
        "invalid env grant `{0}`: expected NAME or NAME=VALUE with a non-empty NAME without `=`"
    )]
    BadEnv(String),
    /// `--dir` without the `HOST::GUEST` shape.
    #[error("invalid dir grant `{0}`: expected HOST::GUEST, HOST::GUEST:ro or HOST::GUEST:rw")]
    BadDir(String),
    /// A granted host directory is missing or unreadable.
    #[error(
        "granted directory {host} cannot be opened; create it or fix the path in the grant for {guest}"
    )]
    MissingDir {
        /// Host path.
        host: PathBuf,
        /// Guest path.
        guest: String,
        /// Why.
        #[source]
        source: anyhow::Error,
    },
}

impl FromStr for EnvGrant {
    type Err = GrantError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || GrantError::BadEnv(s.to_owned());
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

impl FromStr for DirGrant {
    type Err = GrantError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || GrantError::BadDir(s.to_owned());
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

impl Grants {
    /// Builds the WASI context these grants allow: nothing that is not listed.
    pub fn wasi_builder(&self) -> Result<WasiCtxBuilder, GrantError> {
        let mut b = WasiCtxBuilder::new();
        if self.inherit_stdio {
            b.inherit_stdio();
        }
        b.args(&self.args);
        for env in &self.env {
            match env {
                EnvGrant::Value { name, value } => {
                    b.env(name, value);
                }
                EnvGrant::Inherit { name } => {
                    if let Ok(value) = std::env::var(name) {
                        b.env(name, value);
                    }
                }
            }
        }
        for dir in &self.dirs {
            let perms = match dir.mode {
                DirMode::ReadOnly => FsPerms::ReadOnly,
                DirMode::ReadWrite => FsPerms::ReadWrite,
            };
            b.preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(|e| GrantError::MissingDir {
                    host: dir.host.clone(),
                    guest: dir.guest.clone(),
                    source: e.into(),
                })?;
        }
        Ok(b)
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
