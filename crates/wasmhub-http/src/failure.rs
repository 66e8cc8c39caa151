//! Failed requests: their kind, the response that names a stopping budget, and the log line.

use std::sync::Arc;

use hyper::{Response, StatusCode, header};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::metrics::Metrics;

/// The request's wall-clock limit ran out while the guest was still running.
#[derive(Debug, thiserror::Error)]
#[error("deadline of {0:?} exceeded")]
pub struct DeadlineExceeded(pub std::time::Duration);

/// Whether the request's own deadline stopped it.
pub fn past_deadline(e: &anyhow::Error) -> bool {
    // `downcast_ref` sees contexts, `chain` sees the causes below them.
    e.is::<DeadlineExceeded>() || e.chain().any(|c| c.is::<DeadlineExceeded>())
}

/// The budget that stopped the guest, or a component it links to, if one did.
pub fn exceeded(e: &anyhow::Error) -> Option<&wasmhub_core::Exceeded> {
    e.downcast_ref()
        .or_else(|| e.chain().find_map(|c| c.downcast_ref()))
}

/// The failure's kind, as logged and counted: `deadline`, a budget's name, or `trap`.
pub fn failure_kind(e: &anyhow::Error) -> &'static str {
    if past_deadline(e) {
        "deadline"
    } else if let Some(x) = exceeded(e) {
        x.exceeded.kind()
    } else {
        "trap"
    }
}

/// `e` from the instance of component `name`, naming the budget of `meter` that stopped
/// it (its causes kept), unless it already names one: a linked component's, or the deadline.
pub fn classify(
    e: anyhow::Error,
    meter: &wasmhub_core::Meter,
    memory: &wasmhub_core::MemoryMeter,
    name: &str,
) -> anyhow::Error {
    if past_deadline(&e) || exceeded(&e).is_some() {
        return e;
    }
    match meter.exceeded(&e, memory) {
        Some(exceeded) => e.context(wasmhub_core::Exceeded {
            who: format!("component \"{name}\""),
            exceeded,
        }),
        None => e,
    }
}

/// The header naming the budget a failed request ran past.
pub const BUDGET_HEADER: &str = "x-wasmhub-budget";

/// 500 for a failed guest; when a budget stopped it, the header and body name the budget.
pub fn failed_response(
    e: &anyhow::Error,
    fail: impl Fn(StatusCode, &str) -> Response<HyperOutgoingBody>,
) -> Response<HyperOutgoingBody> {
    let Some(x) = exceeded(e) else {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, "the component failed");
    };
    let resp = fail(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("the request was stopped: {x}"),
    );
    named_budget(resp, x.exceeded.kind())
}

/// Adds the header naming the budget that stopped the request.
pub fn named_budget(
    mut resp: Response<HyperOutgoingBody>,
    kind: &'static str,
) -> Response<HyperOutgoingBody> {
    resp.headers_mut()
        .insert(BUDGET_HEADER, header::HeaderValue::from_static(kind));
    resp
}

/// Logs and counts a guest's failure, with everything needed to find it again.
pub struct FailureLog {
    pub id: Arc<str>,
    pub component: Arc<str>,
    pub route: String,
    pub metrics: Arc<Metrics>,
}

impl FailureLog {
    /// Logs one line and counts the failure under `kind`.
    pub fn log(&self, kind: &str, detail: &dyn std::fmt::Debug) {
        self.metrics.failure(kind);
        // One line per failure: the backtrace's lines joined, so log tools keep it whole.
        let detail = format!("{detail:?}");
        let detail: Vec<&str> = detail
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        tracing::error!(
            request_id = %self.id,
            component = %self.component,
            route = %self.route,
            kind,
            "guest failed: {}",
            detail.join(" | ")
        );
    }
}
