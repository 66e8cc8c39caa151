//! Budget values: byte sizes (`64MiB`), durations (`5ms`), the `function` preset, and the table.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// A number of bytes written with a unit: `256kB`, `64MiB`, `1GiB`, `512B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct ByteSize(pub u64);

/// A wall-clock duration written with a unit: `5ms`, `2s`, `250us`, `1m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Wall(pub Duration);

/// A named set of budget values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Profile {
    /// Shopify Functions' limits and determinism.
    Function,
}

/// `[component.NAME.budget]`: each key caps one resource; absent keys keep the default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSection {
    /// `profile = "function"`: a preset; the other keys override its values.
    pub profile: Option<Spanned<Profile>>,
    /// Largest component file.
    pub size: Option<ByteSize>,
    /// Fuel (about one unit per wasm instruction) per call or request.
    pub fuel: Option<u64>,
    /// Wall-clock limit per call or request.
    pub deadline: Option<Wall>,
    /// Total linear memory.
    pub memory: Option<ByteSize>,
    /// Wasm call stack.
    pub stack: Option<ByteSize>,
    /// Largest `invoke` arguments (as WAVE text).
    pub input: Option<ByteSize>,
    /// Largest `invoke` results (as WAVE text).
    pub output: Option<ByteSize>,
    /// Instances of this component serving requests at once (`serve`).
    pub instances: Option<Instances>,
    /// Key-value operations per call or request.
    #[serde(rename = "kv-ops")]
    pub kv_ops: Option<u64>,
}

/// How many instances of a component may serve requests at once: 1 or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Instances(pub u32);

impl TryFrom<i64> for Instances {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, Self::Error> {
        match u32::try_from(n) {
            Ok(n) if n > 0 => Ok(Self(n)),
            _ => Err(format!(
                "invalid instances `{n}`: write how many instances of this component may serve \
                 requests at once, from 1 to {}, e.g. instances = 16",
                u32::MAX
            )),
        }
    }
}

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let scale: u64 = match unit.trim() {
            "B" => 1,
            "kB" | "KB" => 1000,
            "KiB" => 1 << 10,
            "MB" => 1000 * 1000,
            "MiB" => 1 << 20,
            "GB" => 1000 * 1000 * 1000,
            "GiB" => 1 << 30,
            _ => {
                return Err(format!(
                    "invalid size `{s}`: write a whole number and a unit (B, kB, KiB, MB, MiB, \
                     GB, GiB), e.g. \"256kB\" or \"64MiB\""
                ));
            }
        };
        num.parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .map(Self)
            .ok_or_else(|| format!("invalid size `{s}`: the number is missing or too large"))
    }
}

impl TryFrom<String> for ByteSize {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human_bytes(self.0))
    }
}

/// `301 KiB`, `64 MiB`, `512 B`: the largest binary unit that keeps one decimal honest.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size {
            let v = n as f64 / size as f64;
            return if n.is_multiple_of(size) {
                format!("{} {unit}", n / size)
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{n} B")
}

impl FromStr for Wall {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let bad = || {
            format!(
                "invalid duration `{s}`: write a whole number and a unit (us, ms, s, m), \
                 e.g. \"5ms\" or \"30s\""
            )
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        let d = match unit.trim() {
            "us" => Duration::from_micros(n),
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            _ => return Err(bad()),
        };
        if d.is_zero() {
            return Err(format!(
                "invalid duration `{s}`: a deadline must be above zero"
            ));
        }
        Ok(Self(d))
    }
}

impl TryFrom<String> for Wall {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "function" => Ok(Self::Function),
            _ => Err(format!(
                "unknown budget profile `{s}`: the only profile is \"function\" (Shopify \
                 Functions' limits)"
            )),
        }
    }
}

impl TryFrom<String> for Profile {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_with_units() {
        assert_eq!("256kB".parse::<ByteSize>().unwrap().0, 256_000);
        assert_eq!("64MiB".parse::<ByteSize>().unwrap().0, 64 << 20);
        assert_eq!("512 KiB".parse::<ByteSize>().unwrap().0, 512 << 10);
        for bad in ["64", "64mb", "MiB", "1.5MiB", "99999999999999GiB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
        assert_eq!("5ms".parse::<Wall>().unwrap().0, Duration::from_millis(5));
        assert_eq!("2m".parse::<Wall>().unwrap().0, Duration::from_secs(120));
        for bad in ["5", "5 sec", "0ms", "-1s"] {
            assert!(bad.parse::<Wall>().is_err(), "{bad}");
        }
        assert_eq!(human_bytes(301 << 10), "301 KiB");
        assert_eq!(human_bytes(10_000_000), "9.5 MiB");
        assert!(
            "lambda"
                .parse::<Profile>()
                .unwrap_err()
                .contains("\"function\"")
        );
    }
}
