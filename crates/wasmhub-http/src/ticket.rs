//! A WASI 0.3 request's claim on the host, carried into its instance's store: its instance
//! slots, the live-instance gauge, and where to say how the instance ended. Given back when
//! the instance ends, after its body has streamed, not at the response head.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::body::Outcome;
use crate::failure::{FailureLog, failure_kind};
use crate::metrics::LiveInstance;
use crate::slots::Slots;
use crate::usage::UsageReport;

/// One request's claim on the host, until its instance ends.
pub struct Ticket {
    /// The request id.
    pub id: Arc<str>,
    _slots: Slots,
    _live: LiveInstance,
    usage: Arc<UsageReport>,
    failures: FailureLog,
    ended: oneshot::Sender<Outcome>,
}

impl Ticket {
    /// A ticket holding `slots` and a live instance; how it ends is sent to the receiver.
    pub fn new(
        slots: Slots,
        usage: Arc<UsageReport>,
        failures: FailureLog,
    ) -> (Self, oneshot::Receiver<Outcome>) {
        let (ended, rx) = oneshot::channel();
        let ticket = Self {
            id: failures.id.clone(),
            _slots: slots,
            _live: failures.metrics.instance(),
            usage,
            failures,
            ended,
        };
        (ticket, rx)
    }

    /// Reports the instance's usage (none for a request of a reused instance, whose usage
    /// is not its own alone) and how it ended (a failure is logged and counted here).
    pub fn finish(self, usage: Option<wasmhub_core::Usage>, result: Outcome) {
        if let Some(usage) = usage {
            self.failures.metrics.usage(usage.fuel, usage.peak_memory);
            self.usage.finish(usage, &self.id, &self.failures.component);
        }
        if let Err(e) = &result {
            self.failures.log(failure_kind(e), e);
        }
        let _ = self.ended.send(result);
    }
}
