//! What running guests count, apart from the requests the server answers: failures by
//! kind, live instances, fuel, peak memory, dropped log lines and denied calls. A worker
//! process counts these for its guests and reports them to its server as text; the
//! server adds its workers' tallies to its own on `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use wasmhub_caps::DENIABLE;

use crate::metrics::FAILURE_KINDS;

/// One process's (or several added) guest counts at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Guest failures, by kind (in the order of [`FAILURE_KINDS`]).
    pub failures: [u64; FAILURE_KINDS.len()],
    /// Instances alive now (a gauge).
    pub live_instances: u64,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// The largest linear memory any instance held (a maximum, not a sum).
    pub peak_memory_max: u64,
    /// Guest output lines dropped.
    pub log_lines_dropped: u64,
    /// Denied calls, by component name, each by capability (in the order of [`DENIABLE`]).
    pub denied: BTreeMap<String, [u64; DENIABLE.len()]>,
}

impl Tally {
    /// Adds `other`: counters and live instances summed, the peak memory the larger.
    pub fn add(&mut self, other: &Tally) {
        for (a, b) in self.failures.iter_mut().zip(other.failures) {
            *a += b;
        }
        self.live_instances += other.live_instances;
        self.fuel_used += other.fuel_used;
        self.peak_memory_max = self.peak_memory_max.max(other.peak_memory_max);
        self.log_lines_dropped += other.log_lines_dropped;
        for (name, counts) in &other.denied {
            let mine = self.denied.entry(name.clone()).or_default();
            for (a, b) in mine.iter_mut().zip(counts) {
                *a += b;
            }
        }
    }

    /// The tally of a process that has ended: its counts stay, no instance is alive.
    pub fn ended(mut self) -> Self {
        self.live_instances = 0;
        self
    }

    /// The text a worker sends: one `key value` line per non-zero count, a failure or a
    /// denial naming its kind (`failure trap 2`, `denied 0 3 fetch`: capability index,
    /// count, component).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (kind, n) in FAILURE_KINDS.iter().zip(self.failures) {
            if n > 0 {
                let _ = writeln!(out, "failure {kind} {n}");
            }
        }
        for (key, n) in [
            ("live", self.live_instances),
            ("fuel", self.fuel_used),
            ("peak_memory", self.peak_memory_max),
            ("log_dropped", self.log_lines_dropped),
        ] {
            if n > 0 {
                let _ = writeln!(out, "{key} {n}");
            }
        }
        for (name, counts) in &self.denied {
            for (cap, n) in counts.iter().enumerate() {
                if *n > 0 {
                    let _ = writeln!(out, "denied {cap} {n} {name}");
                }
            }
        }
        out
    }

    /// Reads [`Tally::encode`]'s text; `None` if any line is not one it writes.
    pub fn decode(text: &str) -> Option<Self> {
        let mut t = Self::default();
        for line in text.lines() {
            let (key, rest) = line.split_once(' ')?;
            match key {
                "failure" => {
                    let (kind, n) = rest.split_once(' ')?;
                    let i = FAILURE_KINDS.iter().position(|k| *k == kind)?;
                    t.failures[i] = n.parse().ok()?;
                }
                "live" => t.live_instances = rest.parse().ok()?,
                "fuel" => t.fuel_used = rest.parse().ok()?,
                "peak_memory" => t.peak_memory_max = rest.parse().ok()?,
                "log_dropped" => t.log_lines_dropped = rest.parse().ok()?,
                "denied" => {
                    let mut parts = rest.splitn(3, ' ');
                    let cap: usize = parts.next()?.parse().ok()?;
                    let n = parts.next()?.parse().ok()?;
                    let name = parts.next().filter(|n| !n.is_empty())?;
                    *t.denied.entry(name.to_owned()).or_default().get_mut(cap)? = n;
                }
                _ => return None,
            }
        }
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Tally {
        let mut t = Tally {
            live_instances: 2,
            fuel_used: 5_000_000,
            peak_memory_max: 65536,
            log_lines_dropped: 7,
            ..Tally::default()
        };
        t.failures[0] = 3;
        t.failures[FAILURE_KINDS.len() - 1] = 1;
        t.denied.insert("fetch".into(), [0, 0, 3, 0, 1]);
        t.denied.insert("quiet".into(), [0; DENIABLE.len()]);
        t
    }

    #[test]
    fn a_tally_crosses_as_text_and_only_non_zero_counts_are_written() {
        let t = sample();
        let text = t.encode();
        assert!(text.contains("failure trap 3\n"), "{text}");
        assert!(text.contains("denied 2 3 fetch\n"), "{text}");
        assert!(!text.contains("quiet"), "{text}");
        let mut back = Tally::decode(&text).unwrap();
        assert_eq!(back.denied.remove("fetch"), Some([0, 0, 3, 0, 1]));
        let mut expected = t;
        expected.denied.clear();
        assert_eq!(back, expected);
        assert_eq!(Tally::decode(""), Some(Tally::default()));
    }

    #[test]
    fn text_that_is_not_a_tally_is_refused() {
        for bad in [
            "live",
            "live x",
            "failure nosuchkind 1",
            "denied 9 1 fetch",
            "denied 0 1",
            "denied 0 1 ",
            "surprise 1",
            "live -1",
        ] {
            assert_eq!(Tally::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn adding_sums_counters_and_live_instances_and_keeps_the_larger_peak() {
        let mut sum = sample();
        let mut other = Tally {
            live_instances: 1,
            fuel_used: 1,
            peak_memory_max: 1 << 20,
            ..Tally::default()
        };
        other.failures[0] = 1;
        other.denied.insert("fetch".into(), [1, 0, 0, 0, 0]);
        other.denied.insert("other".into(), [0, 2, 0, 0, 0]);
        sum.add(&other);
        assert_eq!(sum.failures[0], 4);
        assert_eq!(sum.live_instances, 3);
        assert_eq!(sum.fuel_used, 5_000_001);
        assert_eq!(sum.peak_memory_max, 1 << 20);
        assert_eq!(sum.log_lines_dropped, 7);
        assert_eq!(sum.denied["fetch"], [1, 0, 3, 0, 1]);
        assert_eq!(sum.denied["other"], [0, 2, 0, 0, 0]);
        assert_eq!(sum.denied["quiet"], [0; DENIABLE.len()]);
    }

    #[test]
    fn an_ended_process_keeps_its_counts_but_no_live_instances() {
        let ended = sample().ended();
        assert_eq!(ended.live_instances, 0);
        assert_eq!(
            ended,
            Tally {
                live_instances: 0,
                ..sample()
            }
        );
    }
}
