//! Registry credentials: flags, then `WASMHUB_REGISTRY_USERNAME`/`_PASSWORD`, then the
//! Docker config file (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`), else none.

use std::path::PathBuf;

use anyhow::{Context, Result};
use base64::Engine as _;
use oci_client::secrets::RegistryAuth;

/// A user name and password.
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <hidden>)", self.username)
    }
}

/// Where credentials came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--username` and `--password-stdin`.
    Flags,
    /// `WASMHUB_REGISTRY_USERNAME` and `WASMHUB_REGISTRY_PASSWORD`.
    Env,
    /// The Docker config file.
    DockerConfig,
    /// None: anonymous.
    Anonymous,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Flags => "--username/--password-stdin",
            Self::Env => "WASMHUB_REGISTRY_USERNAME/WASMHUB_REGISTRY_PASSWORD",
            Self::DockerConfig => "the Docker config file",
            Self::Anonymous => "no credentials",
        })
    }
}

/// The credentials to use for `registry`, and where they came from.
pub fn resolve(registry: &str, flags: Option<&Credentials>) -> Result<(RegistryAuth, Source)> {
    if let Some(c) = flags {
        return Ok((basic(c), Source::Flags));
    }
    if let (Ok(username), Ok(password)) = (
        std::env::var("WASMHUB_REGISTRY_USERNAME"),
        std::env::var("WASMHUB_REGISTRY_PASSWORD"),
    ) {
        return Ok((basic(&Credentials { username, password }), Source::Env));
    }
    if let Some(c) = docker_config(registry)? {
        return Ok((basic(&c), Source::DockerConfig));
    }
    Ok((RegistryAuth::Anonymous, Source::Anonymous))
}

fn basic(c: &Credentials) -> RegistryAuth {
    RegistryAuth::Basic(c.username.clone(), c.password.clone())
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// `auths[registry]` of the Docker config file: `auth` (base64 `user:password`) or
/// `username`/`password`.
fn docker_config(registry: &str) -> Result<Option<Credentials>> {
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let config: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let auths = &config["auths"];
    let entry = [
        registry.to_owned(),
        format!("https://{registry}"),
        format!("http://{registry}"),
    ]
    .iter()
    .find_map(|k| auths.get(k))
    .cloned();
    let Some(entry) = entry else {
        return Ok(None);
    };
    if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .with_context(|| {
                format!(
                    "{}: auths.{registry:?}.auth is not base64 of user:password",
                    path.display()
                )
            })?;
        let (username, password) = decoded.split_once(':').with_context(|| {
            format!(
                "{}: auths.{registry:?}.auth has no `:` between user and password",
                path.display()
            )
        })?;
        return Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
    }
    match (entry["username"].as_str(), entry["password"].as_str()) {
        (Some(u), Some(p)) => Ok(Some(Credentials {
            username: u.to_owned(),
            password: p.to_owned(),
        })),
        _ => Ok(None),
    }
}
