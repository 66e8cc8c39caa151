//! One routed request on its way to a guest: what the WASI 0.2 and 0.3 paths share, and
//! the host's own answers when the guest does not give one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::{Response, StatusCode};
use tokio::sync::oneshot;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::body::{CutLog, Outcome, Settled};
use crate::failure::{FailureLog, failed_response, named_budget};
use crate::metrics::Metrics;
use crate::respond::plain;
use crate::store::Recipe;
use crate::usage::UsageReport;

/// A response, or the host's answer in its place (404, 413, 500, 503, 504...).
pub type Answer = Result<Response<HyperOutgoingBody>, Response<HyperOutgoingBody>>;

/// One request to one served component.
pub struct Call<'a> {
    /// The request id.
    pub id: &'a Arc<str>,
    /// The component it was routed to: what its instances are made from.
    pub recipe: &'a Arc<Recipe>,
    /// Its route, as written.
    pub route: &'a str,
    /// Its wall-clock limit.
    pub deadline: Duration,
    /// The host's counters.
    pub metrics: &'a Arc<Metrics>,
    /// Where the guest's usage meets the access line.
    pub usage: &'a Arc<UsageReport>,
    /// When the request arrived.
    pub start: Instant,
}

impl Call<'_> {
    /// The host's plain-text answer: `what`, naming the component and the request id.
    pub fn fail(&self, status: StatusCode, what: &str) -> Response<HyperOutgoingBody> {
        plain(
            status,
            self.id,
            format!(
                "{what} (component \"{}\", request id {})",
                self.recipe.name, self.id
            ),
        )
    }

    /// 504: no response within the deadline.
    pub fn timed_out(&self) -> Response<HyperOutgoingBody> {
        let deadline = self.deadline;
        named_budget(
            self.fail(
                StatusCode::GATEWAY_TIMEOUT,
                &format!("the component did not answer within its deadline of {deadline:?}"),
            ),
            "deadline",
        )
    }

    /// The answer for a guest that failed before its response head: 504 past the
    /// deadline, 500 naming the budget that stopped it, or 500 saying only that it failed
    /// (the details are in the log, never sent to the client).
    pub fn failed(&self, e: &anyhow::Error) -> Response<HyperOutgoingBody> {
        if crate::failure::past_deadline(e) {
            return self.timed_out();
        }
        failed_response(e, |status, what| self.fail(status, what))
    }

    /// Logs and counts this request's guest failures.
    pub fn failures(&self) -> FailureLog {
        FailureLog {
            id: self.id.clone(),
            component: self.recipe.name.clone(),
            route: self.route.to_owned(),
            metrics: self.metrics.clone(),
        }
    }

    /// `resp`, whose guest is still running: its body ends once the guest has (`ended`),
    /// abnormally if the guest failed.
    pub fn settle(
        &self,
        resp: Response<HyperOutgoingBody>,
        ended: oneshot::Receiver<Outcome>,
    ) -> Response<HyperOutgoingBody> {
        let cut = CutLog {
            id: self.id.clone(),
            component: self.recipe.name.clone(),
            status: resp.status().as_u16(),
        };
        Settled::response(resp, ended, cut)
    }
}
