//! The access log: one line per request as its response head goes out.

use std::time::Instant;

use hyper::StatusCode;

use crate::metrics::Metrics;

/// The `tracing` target of the access log's lines (one per request).
pub const ACCESS_TARGET: &str = "wasmhub::access";

/// What the access line says about a request, besides how it ended.
pub struct Access<'a> {
    /// The request id.
    pub id: &'a str,
    /// The component it was routed to (`-` when none).
    pub component: &'a str,
    /// Its route (`-` when none).
    pub route: &'a str,
    /// The request's method.
    pub method: &'a hyper::Method,
    /// The request's path.
    pub path: &'a str,
}

impl Access<'_> {
    /// Counts the request and writes its line.
    pub fn log(
        &self,
        metrics: &Metrics,
        status: StatusCode,
        start: Instant,
        usage: Option<wasmhub_core::Usage>,
    ) {
        metrics.request(status.as_u16(), start.elapsed());
        tracing::info!(
            target: ACCESS_TARGET,
            request_id = self.id,
            component = self.component,
            route = self.route,
            method = %self.method,
            path = self.path,
            status = status.as_u16(),
            latency_us = start.elapsed().as_micros() as u64,
            fuel = usage.and_then(|u| u.fuel),
            peak_memory = usage.map(|u| u.peak_memory),
        );
    }
}
