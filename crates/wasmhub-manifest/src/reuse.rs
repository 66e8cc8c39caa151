//! `reuse = N`: how many requests one instance of a served component may take.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// Requests one instance may serve before a fresh one is made; 1 (the default) is a fresh
/// instance per request. Above 1, state left in the instance carries to the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "i64")]
pub struct Reuse(u32);

/// The largest `reuse` accepted.
pub const MAX_REUSE: u32 = 1_000_000;

impl Reuse {
    /// A fresh instance per request.
    pub const FRESH: Self = Self(1);

    /// Requests per instance (at least 1).
    pub fn get(self) -> u32 {
        self.0
    }

    /// Whether an instance may serve more than one request.
    pub fn is_reused(self) -> bool {
        self.0 > 1
    }
}

impl Default for Reuse {
    fn default() -> Self {
        Self::FRESH
    }
}

impl fmt::Display for Reuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TryFrom<i64> for Reuse {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, Self::Error> {
        match u32::try_from(n) {
            Ok(n @ 1..=MAX_REUSE) => Ok(Self(n)),
            _ => Err(format!(
                "reuse = {n} is out of range: write a number of requests per instance from 1 \
                 (a fresh instance per request, the default) to {MAX_REUSE}"
            )),
        }
    }
}

impl FromStr for Reuse {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n: i64 = s.parse().map_err(|_| {
            format!("reuse `{s}` is not a number: write how many requests one instance may serve")
        })?;
        Self::try_from(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_within_range() {
        assert_eq!("128".parse::<Reuse>().map(Reuse::get), Ok(128));
        assert!(!Reuse::default().is_reused());
        assert!("0".parse::<Reuse>().unwrap_err().contains("from 1"));
        assert!("x".parse::<Reuse>().unwrap_err().contains("not a number"));
    }
}
