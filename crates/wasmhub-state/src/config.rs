//! Configuration values: read once when a component is prepared, secrets included, and
//! never printed (secrets show as `<secret>`).

use std::fmt;
use std::os::unix::fs::PermissionsExt;

use wasmhub_app::{ConfigSource, Grants};

use crate::backends::StateError;

/// A component's configuration: key, value and whether it is secret.
#[derive(Clone, Default)]
pub struct Config(Vec<(String, String, bool)>);

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v, secret) in &self.0 {
            if *secret {
                m.entry(k, &"<secret>");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

impl Config {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v.as_str())
    }

    /// Every key and value.
    pub fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v, _)| (k.as_str(), v.as_str()))
    }
}

/// Reads every configuration value of `grants`: env variables from this process, files
/// from disk (a secret file must not be readable by group or others).
pub fn resolve(grants: &Grants) -> Result<Config, StateError> {
    let who = grants.site.subject();
    let mut out = Vec::new();
    for g in &grants.config {
        let (key, value) = (&g.value.key, &g.value.value);
        let at = g.origin.to_string();
        let text = match &value.source {
            ConfigSource::Value(v) => v.clone(),
            ConfigSource::Env(name) => std::env::var(name).map_err(|_| StateError::Config {
                message: format!(
                    "{who}'s config key {key:?} comes from environment variable {name}, which \
                     is not set (or not UTF-8) in wasmhub's environment ({at}); set it before \
                     starting wasmhub"
                ),
            })?,
            ConfigSource::File(path) => read_file(&who, key, path, value.secret, &at)?,
        };
        out.push((key.clone(), text, value.secret));
    }
    Ok(Config(out))
}

fn read_file(
    who: &str,
    key: &str,
    path: &str,
    secret: bool,
    at: &str,
) -> Result<String, StateError> {
    let fail = |what: String| StateError::Config {
        message: format!("{who}'s config key {key:?} comes from file {path} ({at}), {what}"),
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("which cannot be read: {e}")))?;
    if secret && meta.permissions().mode() & 0o077 != 0 {
        return Err(fail(format!(
            "which group or others can access (mode {:o}); a secret file must be readable by \
             its owner only: chmod 600 {path}",
            meta.permissions().mode() & 0o777
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("which cannot be read as UTF-8 text: {e}")))?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_owned())
}
