//! `isolation = "in-process" | "process"` and `tenant = "NAME"`: where a component runs.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// Where a served component's instances run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum Isolation {
    /// In the server's own process, beside every other component (the default).
    #[default]
    InProcess,
    /// In a worker process of its tenant, started and supervised by the server.
    Process,
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InProcess => "in-process",
            Self::Process => "process",
        })
    }
}

impl FromStr for Isolation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "in-process" => Ok(Self::InProcess),
            "process" => Ok(Self::Process),
            _ => Err(format!(
                "unknown isolation `{s}`: write \"in-process\" (the default) or \"process\" \
                 (a worker process per tenant)"
            )),
        }
    }
}

impl TryFrom<String> for Isolation {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_and_names_the_fix() {
        assert_eq!("process".parse::<Isolation>(), Ok(Isolation::Process));
        assert_eq!("in-process".parse::<Isolation>(), Ok(Isolation::InProcess));
        let err = "vm".parse::<Isolation>().unwrap_err();
        assert!(err.contains("\"in-process\""), "{err}");
        assert_eq!(Isolation::Process.to_string(), "process");
    }
}
