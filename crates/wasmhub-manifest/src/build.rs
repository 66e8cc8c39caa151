//! `[component.NAME.build]`: how `wasmhub build` and `wasmhub dev` make a component's `.wasm`.

use std::fmt;

use serde::Deserialize;
use toml::Spanned;

/// `[component.NAME.build]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSection {
    /// The shell command that writes the component's `source` (run with `sh -c` in `workdir`).
    pub command: Spanned<BuildCommand>,
    /// Where the commands run, relative to the manifest (default: the manifest's directory).
    #[serde(default)]
    pub workdir: Option<Spanned<String>>,
    /// Files whose change makes `wasmhub dev` rebuild, as globs relative to `workdir`.
    #[serde(default)]
    pub watch: Vec<Spanned<WatchGlob>>,
    /// A step that installs the build's tools; it reruns only when its inputs change.
    #[serde(default)]
    pub setup: Option<SetupSection>,
}

/// `setup = { command = "npm install", inputs = ["package.json", "package-lock.json"] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupSection {
    /// The shell command, run in `workdir` before the first build and after an input changes.
    pub command: Spanned<BuildCommand>,
    /// Files (relative to `workdir`) whose content decides whether the step reruns.
    #[serde(default)]
    pub inputs: Vec<Spanned<String>>,
}

/// A non-empty shell command.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct BuildCommand(String);

impl TryFrom<String> for BuildCommand {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.trim().is_empty() {
            Err(
                "empty build command: write the shell command that builds the component, \
                 like command = \"cargo build --target wasm32-wasip2 --release\""
                    .into(),
            )
        } else {
            Ok(Self(s))
        }
    }
}

impl BuildCommand {
    /// The command as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BuildCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A relative path glob (`src/**/*.rs`, `*.{js,json}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct WatchGlob(String);

impl TryFrom<String> for WatchGlob {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let why = if s.is_empty() {
            Some("it is empty".to_owned())
        } else if s.starts_with('/') {
            Some("it is absolute".to_owned())
        } else if s.split('/').any(|part| part == "..") {
            Some("it leaves the workdir with ..".to_owned())
        } else {
            globset::Glob::new(&s).err().map(|e| e.kind().to_string())
        };
        match why {
            None => Ok(Self(s)),
            Some(why) => Err(format!(
                "invalid watch glob `{s}`: {why}; write a glob relative to the build's workdir, \
                 like \"src/**/*.rs\""
            )),
        }
    }
}

impl WatchGlob {
    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WatchGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_are_checked() {
        assert!(WatchGlob::try_from("src/**/*.rs".to_owned()).is_ok());
        assert!(WatchGlob::try_from("*.{js,json}".to_owned()).is_ok());
        for bad in ["", "/abs/*.rs", "../x/*.rs", "src/[a"] {
            let e = WatchGlob::try_from(bad.to_owned()).unwrap_err();
            assert!(e.starts_with(&format!("invalid watch glob `{bad}`")), "{e}");
        }
        assert!(BuildCommand::try_from("  ".to_owned()).is_err());
    }
}
