//! Prometheus metrics: requests, latency histogram, live instances, guest failures by kind.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency bucket upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Failure kinds counted separately.
pub const FAILURE_KINDS: [&str; 9] = [
    "trap",
    "deadline",
    "fuel",
    "memory",
    "stack",
    "no-response",
    "error-code",
    "overloaded",
    "panic",
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

    /// The text exposition format.
    pub fn render(&self) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
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
        let _ = writeln!(out, "wasmhub_live_instances {}", get(&self.live_instances));
        out.push_str("# HELP wasmhub_guest_failures_total Requests a guest failed, by kind.\n# TYPE wasmhub_guest_failures_total counter\n");
        for (k, c) in FAILURE_KINDS.iter().zip(&self.failures) {
            let _ = writeln!(
                out,
                "wasmhub_guest_failures_total{{kind=\"{k}\"}} {}",
                get(c)
            );
        }
        out.push_str("# HELP wasmhub_guest_log_lines_dropped_total Guest output lines dropped because the log writer was behind.\n# TYPE wasmhub_guest_log_lines_dropped_total counter\n");
        let _ = writeln!(
            out,
            "wasmhub_guest_log_lines_dropped_total {}",
            crate::guest_log::dropped()
        );
        out.push_str("# HELP wasmhub_fuel_consumed_total Fuel guests consumed (when metered).\n# TYPE wasmhub_fuel_consumed_total counter\n");
        let _ = writeln!(out, "wasmhub_fuel_consumed_total {}", get(&self.fuel_used));
        out.push_str("# HELP wasmhub_peak_memory_bytes_max Largest linear memory any instance held.\n# TYPE wasmhub_peak_memory_bytes_max gauge\n");
        let _ = writeln!(
            out,
            "wasmhub_peak_memory_bytes_max {}",
            get(&self.peak_memory_max)
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
        for d in wasmhub_caps::Denials::all() {
            for cap in wasmhub_caps::DENIABLE {
                let _ = writeln!(
                    out,
                    "wasmhub_denied_calls_total{{component=\"{}\",capability=\"{}\"}} {}",
                    d.name(),
                    denied_label(cap),
                    d.count(cap)
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
