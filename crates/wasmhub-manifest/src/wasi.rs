//! `wasi = "0.2" | "0.3"`: which WASI a component is run with.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// The WASI release a component targets; 0.3 (native async) is opt-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum WasiVersion {
    /// WASI 0.2 (the default).
    #[default]
    P2,
    /// WASI 0.3: `async func`, `stream`, `future`, run by the async executor.
    P3,
}

impl WasiVersion {
    /// The version a `wasi:*@X.Y.Z` import belongs to, if it is a WASI import.
    pub fn of_import(name: &str) -> Option<Self> {
        let version = name.strip_prefix("wasi:")?.split_once('@')?.1;
        if version.starts_with("0.2.") {
            Some(Self::P2)
        } else if version.starts_with("0.3.") {
            Some(Self::P3)
        } else {
            None
        }
    }
}

impl fmt::Display for WasiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::P2 => "0.2",
            Self::P3 => "0.3",
        })
    }
}

impl FromStr for WasiVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "0.2" => Ok(Self::P2),
            "0.3" => Ok(Self::P3),
            _ => Err(format!(
                "unknown WASI version `{s}`: write \"0.2\" (the default) or \"0.3\" (native async)"
            )),
        }
    }
}

impl TryFrom<String> for WasiVersion {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_classifies_imports() {
        assert_eq!("0.3".parse::<WasiVersion>(), Ok(WasiVersion::P3));
        assert!(
            "0.4"
                .parse::<WasiVersion>()
                .unwrap_err()
                .contains("\"0.3\" (native async)")
        );
        assert_eq!(
            WasiVersion::of_import("wasi:cli/stdout@0.3.0-rc-2025-09-16"),
            Some(WasiVersion::P3)
        );
        assert_eq!(
            WasiVersion::of_import("wasi:io/streams@0.2.6"),
            Some(WasiVersion::P2)
        );
        assert_eq!(WasiVersion::of_import("acme:pricing/calc@0.3.0"), None);
    }
}
