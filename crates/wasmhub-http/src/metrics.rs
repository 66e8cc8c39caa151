//! Prometheus metrics: requests, latency histogram, live instances, guest failures by kind.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::tally::Tally;

/// Latency bucket upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Failure kinds counted separately (`worker`: the worker process running the guest failed
/// the request, under `isolation = "process"`).
pub const FAILURE_KINDS: [&str; 10] = [
    "trap",
    "deadline",
    "fuel",
    "memory",
    "stack",
    "no-response",
    "error-code",
    "overloaded",
    "panic",
    "worker",
];

/// Counters shared by every request; lock-free.
#[derive(Default)]
pub struct Metrics {
    requests: [AtomicU64; 5],
    buckets: [AtomicU64; BUCKETS.len()],
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
    live_instances: AtomicU64,
    fuel_used: AtomicU64,
    peak_memory_max: AtomicU64,
    failures: [AtomicU64; FAILURE_KINDS.len()],
    /// Reloads by outcome: ok, failed.
    reloads: [AtomicU64; 2],
    generation: AtomicU64,
}

impl Metrics {
    /// Counts one finished request by status class and latency.
    pub fn request(&self, status: u16, latency: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.requests[class].fetch_add(1, Ordering::Relaxed);
        let secs = latency.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_sum_us
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds one finished instance's fuel and peak memory.
    pub fn usage(&self, fuel: Option<u64>, peak_memory: u64) {
        if let Some(f) = fuel {
            self.fuel_used.fetch_add(f, Ordering::Relaxed);
        }
        self.peak_memory_max
            .fetch_max(peak_memory, Ordering::Relaxed);
    }

    /// Counts one guest failure of `kind` (one of [`FAILURE_KINDS`]).
    pub fn failure(&self, kind: &str) {
        if let Some(i) = FAILURE_KINDS.iter().position(|k| *k == kind) {
            self.failures[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A reload published `generation`.
    pub fn reloaded(&self, generation: u64) {
        self.reloads[0].fetch_add(1, Ordering::Relaxed);
        self.generation.store(generation, Ordering::Relaxed);
    }

    /// A reload failed and changed nothing.
    pub fn reload_failed(&self) {
        self.reloads[1].fetch_add(1, Ordering::Relaxed);
    }

    /// An instance started; the guard ends it.
    pub fn instance(self: &Arc<Self>) -> LiveInstance {
        self.live_instances.fetch_add(1, Ordering::Relaxed);
        LiveInstance(self.clone())
    }

    /// What this process's guests have counted (also what a worker reports to its server).
    pub fn tally(&self) -> Tally {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut denied = std::collections::BTreeMap::new();
        for d in wasmhub_caps::Denials::all() {
            let counts: &mut [u64; wasmhub_caps::DENIABLE.len()] =
                denied.entry(d.name().to_owned()).or_default();
            for (n, cap) in counts.iter_mut().zip(wasmhub_caps::DENIABLE) {
                *n += d.count(cap);
            }
        }
        Tally {
            failures: self.failures.each_ref().map(get),
            live_instances: get(&self.live_instances),
            fuel_used: get(&self.fuel_used),
            peak_memory_max: get(&self.peak_memory_max),
            log_lines_dropped: crate::guest_log::dropped(),
            denied,
        }
    }

    /// The text exposition format: this process's counts, its guests' with `workers'`
    /// added (what its worker processes' guests counted).
    pub fn render(&self, workers: &Tally) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut guests = self.tally();
        guests.add(workers);
        let mut out = String::new();
        out.push_str("# HELP wasmhub_requests_total Requests answered, by status class.\n# TYPE wasmhub_requests_total counter\n");
        for (i, c) in self.requests.iter().enumerate() {
            let _ = writeln!(
                out,
                "wasmhub_requests_total{{class=\"{}xx\"}} {}",
                i + 1,
                get(c)
            );
        }
        out.push_str("# HELP wasmhub_request_duration_seconds Time to the response head.\n# TYPE wasmhub_request_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (b, c) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += get(c);
            let _ = writeln!(
                out,
                "wasmhub_request_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            out,
            "wasmhub_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "wasmhub_request_duration_seconds_sum {}",
            get(&self.latency_sum_us) as f64 / 1e6
        );
        let _ = writeln!(out, "wasmhub_request_duration_seconds_count {count}");
        out.push_str("# HELP wasmhub_live_instances Instances alive now.\n# TYPE wasmhub_live_instances gauge\n");
        let _ = writeln!(out, "wasmhub_live_instances {}", guests.live_instances);
        out.push_str("# HELP wasmhub_guest_failures_total Requests a guest failed, by kind.\n# TYPE wasmhub_guest_failures_total counter\n");
        for (k, n) in FAILURE_KINDS.iter().zip(guests.failures) {
            let _ = writeln!(out, "wasmhub_guest_failures_total{{kind=\"{k}\"}} {n}");
        }
        out.push_str("# HELP wasmhub_guest_log_lines_dropped_total Guest output lines dropped because the log writer was behind.\n# TYPE wasmhub_guest_log_lines_dropped_total counter\n");
        let _ = writeln!(
            out,
            "wasmhub_guest_log_lines_dropped_total {}",
            guests.log_lines_dropped
        );
        out.push_str("# HELP wasmhub_fuel_consumed_total Fuel guests consumed (when metered).\n# TYPE wasmhub_fuel_consumed_total counter\n");
        let _ = writeln!(out, "wasmhub_fuel_consumed_total {}", guests.fuel_used);
        out.push_str("# HELP wasmhub_peak_memory_bytes_max Largest linear memory any instance held.\n# TYPE wasmhub_peak_memory_bytes_max gauge\n");
        let _ = writeln!(
            out,
            "wasmhub_peak_memory_bytes_max {}",
            guests.peak_memory_max
        );
        out.push_str("# HELP wasmhub_reloads_total Reloads of the app, by outcome.\n# TYPE wasmhub_reloads_total counter\n");
        for (outcome, c) in ["ok", "failed"].iter().zip(&self.reloads) {
            let _ = writeln!(
                out,
                "wasmhub_reloads_total{{outcome=\"{outcome}\"}} {}",
                get(c)
            );
        }
        out.push_str("# HELP wasmhub_generation The generation of the app new requests run in (1 at start).\n# TYPE wasmhub_generation gauge\n");
        // Generation 1 until a reload publishes another.
        let _ = writeln!(out, "wasmhub_generation {}", get(&self.generation).max(1));
        out.push_str("# HELP wasmhub_denied_calls_total Calls a component made to a capability it is not granted.\n# TYPE wasmhub_denied_calls_total counter\n");
        for (name, counts) in &guests.denied {
            for (cap, n) in wasmhub_caps::DENIABLE.into_iter().zip(counts) {
                let _ = writeln!(
                    out,
                    "wasmhub_denied_calls_total{{component=\"{name}\",capability=\"{}\"}} {n}",
                    denied_label(cap),
                );
            }
        }
        out
    }
}

/// The metric label of a capability that can be denied at the call.
fn denied_label(cap: wasmhub_caps::Capability) -> &'static str {
    match cap {
        wasmhub_caps::Capability::Files => "files",
        wasmhub_caps::Capability::Sockets => "sockets",
        wasmhub_caps::Capability::KeyValue => "keyvalue",
        wasmhub_caps::Capability::Config => "config",
        _ => "outbound_http",
    }
}

/// Decrements the live-instance gauge when dropped.
pub struct LiveInstance(Arc<Metrics>);

impl Drop for LiveInstance {
    fn drop(&mut self) {
        self.0.live_instances.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_adds_the_workers_tally_to_this_process_counts() {
        let metrics = Arc::new(Metrics::default());
        metrics.failure("trap");
        metrics.failure("worker");
        metrics.usage(Some(10), 4096);
        let _live = metrics.instance();
        let mut workers = Tally {
            live_instances: 2,
            fuel_used: 5,
            peak_memory_max: 1 << 20,
            ..Tally::default()
        };
        workers.failures[0] = 2;
        workers
            .denied
            .insert("metrics-test".into(), [0, 0, 4, 0, 0]);
        let own = metrics.render(&Tally::default());
        assert!(own.contains("wasmhub_live_instances 1\n"), "{own}");
        assert!(
            own.contains("wasmhub_guest_failures_total{kind=\"worker\"} 1\n"),
            "{own}"
        );
        let m = metrics.render(&workers);
        assert!(
            m.contains("{component=\"metrics-test\",capability=\"keyvalue\"} 0\n"),
            "each capability its own label: {m}"
        );
        for line in [
            "wasmhub_guest_failures_total{kind=\"trap\"} 3\n",
            "wasmhub_guest_failures_total{kind=\"worker\"} 1\n",
            "wasmhub_live_instances 3\n",
            "wasmhub_fuel_consumed_total 15\n",
            "wasmhub_peak_memory_bytes_max 1048576\n",
            "wasmhub_denied_calls_total{component=\"metrics-test\",capability=\"outbound_http\"} 4\n",
        ] {
            assert!(m.contains(line), "{line} in {m}");
        }
        assert_eq!(
            metrics.tally().live_instances,
            1,
            "the workers' are not kept"
        );
    }
}
