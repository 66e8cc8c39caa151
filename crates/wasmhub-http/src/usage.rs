//! A request's usage figures meet its access-log line: one line per request when the guest
//! finishes before the response head (the usual case), a second line when it streams on.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmhub_core::Usage;

/// Shared by a request's guest task and its access log; whichever comes second reports.
#[derive(Default)]
pub struct UsageReport {
    usage: OnceLock<Usage>,
    logged: AtomicBool,
}

impl UsageReport {
    /// The guest finished with `usage`; logs it alone if the access line is already out.
    pub fn finish(&self, usage: Usage, request_id: &str, component: &str) {
        let _ = self.usage.set(usage);
        if self.logged.load(Ordering::SeqCst) {
            tracing::info!(
                target: "wasmhub::usage",
                request_id,
                component,
                wall_us = usage.wall.as_micros() as u64,
                fuel = usage.fuel,
                peak_memory = usage.peak_memory,
            );
        }
    }

    /// The access line is being written: the usage, if the guest has finished.
    pub fn for_access_line(&self) -> Option<Usage> {
        self.logged.store(true, Ordering::SeqCst);
        self.usage.get().copied()
    }
}
