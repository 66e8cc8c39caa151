//! Serving `wasi:http/handler@0.3.x` components: Wasmtime's handler machinery, with one
//! request per instance (a fresh store each time, as for 0.2) and the request's deadline.
//!
//! The request's [`Ticket`] (its instance slots, the live-instance gauge, where to report
//! usage and how it ended) moves into the instance's store, so it is given back only when
//! the instance ends: after the body has streamed, not at the response head.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use wasmtime::component::GuestTaskId;
use wasmtime::{Engine, Store, StoreContextMut};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::handler::{
    ExpirationError, HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept,
    TrapOrPanicError, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::p3::bindings::ServicePre;

use crate::body::{CutLog, Outcome, Settled};
use crate::failure::{
    DeadlineExceeded, FailureLog, classify, failed_response, failure_kind, named_budget,
    past_deadline,
};
use crate::guest_log::RequestId;
use crate::metrics::LiveInstance;
use crate::prepared::Served;
use crate::slots::Slots;
use crate::state::ServeState;
use crate::usage::UsageReport;
use wasmhub_host::Driver;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// A 0.3 handler: instantiates a fresh instance for every request.
pub type Handler = ProxyHandler<Fresh>;

/// What a worker needs to make its instance.
pub struct Fresh {
    engine: Engine,
    pre: ProxyPre<ServeState>,
    served: Served,
    deadline: Duration,
}

/// Builds the handler for `served`, whose component exports `wasi:http/handler@0.3.x`.
pub fn handler(
    engine: &Engine,
    pre: ServicePre<ServeState>,
    served: Served,
    deadline: Duration,
) -> Arc<Handler> {
    Arc::new(ProxyHandler::new(Fresh {
        engine: engine.clone(),
        pre: ProxyPre::P3(pre),
        served,
        deadline,
    }))
}

impl HandlerState for Fresh {
    type StoreData = ServeState;
    type WorkerExpiration = Expiry;
    type WorkerState = OneRequest;

    async fn instantiate(&self) -> wasmtime::Result<Instance<ServeState, Expiry, OneRequest>> {
        // The instance is made as its request arrives, before the request reaches it: the
        // id comes with the request.
        let id = Arc::new(OnceLock::new());
        let (mut store, meter) =
            crate::handler::new_store(&self.engine, &self.served, &RequestId::Later(id.clone()))
                .map_err(wasmtime::Error::from_anyhow)?;
        let proxy = self.pre.instantiate_async(&mut store).await?;
        let links = store.data().links.driver();
        let expired = Arc::new(AtomicBool::new(false));
        Ok(Instance {
            store,
            proxy,
            view: <ServeState as WasiHttpView>::http,
            expiration: Expiry {
                sleep: Box::pin(tokio::time::sleep(self.deadline)),
                links,
                expired: expired.clone(),
            },
            state: OneRequest {
                name: self.served.name.clone(),
                deadline: self.deadline,
                id,
                meter,
                expired,
            },
        })
    }
}

/// Ends a worker at the request's deadline, counted from when its instance was made (as
/// the request arrived), whatever the worker is doing: answering, streaming its body, or
/// post-return work. (Wasmtime's `start` restarts when the response is produced, so it is
/// not used: measuring from it would let an instance live about twice its deadline.)
///
/// The worker polls it outside the instance's event loop, each time it wakes: the one place
/// the loops of the request's WASI 0.3 link targets can be polled on the request's task.
pub struct Expiry {
    sleep: Pin<Box<tokio::time::Sleep>>,
    links: Option<Driver>,
    /// Set when the deadline ended the worker, so its end is counted as `deadline`.
    expired: Arc<AtomicBool>,
}

impl WorkerExpiration for Expiry {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        _status: WorkerStatus,
        _start: Instant,
    ) -> Poll<()> {
        if let Some(links) = &self.links {
            links.poll(cx);
        }
        let done = self.sleep.as_mut().poll(cx);
        if done.is_ready() {
            self.expired.store(true, Ordering::Release);
        }
        done
    }
}

/// One request's claim on the host, carried into its instance's store and given back when
/// the instance ends: its slots, the live-instance gauge, and where to say how it ended.
pub struct Ticket {
    id: Arc<str>,
    _slots: Slots,
    _live: LiveInstance,
    usage: Arc<UsageReport>,
    failures: FailureLog,
    ended: oneshot::Sender<Outcome>,
}

impl Ticket {
    /// Reports the instance's usage and how it ended (a failure is logged and counted here).
    fn finish(self, usage: wasmhub_core::Usage, result: Outcome) {
        self.failures.metrics.usage(usage.fuel, usage.peak_memory);
        self.usage.finish(usage, &self.id, &self.failures.component);
        if let Err(e) = &result {
            self.failures.log(failure_kind(e), e);
        }
        let _ = self.ended.send(result);
    }
}

/// A worker that takes one request: every request gets a fresh instance.
pub struct OneRequest {
    name: Arc<str>,
    deadline: Duration,
    /// The request id its guest's log lines carry, set when the request arrives.
    id: Arc<OnceLock<Arc<str>>>,
    meter: wasmhub_core::Meter,
    expired: Arc<AtomicBool>,
}

impl WorkerState for OneRequest {
    type StoreData = ServeState;
    type RequestData = Ticket;

    fn should_accept_request(&self, _concurrent: usize, total: usize) -> ShouldAccept {
        if total == 0 {
            ShouldAccept::Yes
        } else {
            ShouldAccept::Never
        }
    }

    fn on_request_start(
        &self,
        mut store: StoreContextMut<'_, ServeState>,
        ticket: Ticket,
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        let _ = self.id.set(ticket.id.clone());
        store.data_mut().request = Some(ticket);
        Box::pin(tokio::time::sleep(self.deadline))
    }

    fn drop(&self, store: Store<ServeState>, result: wasmtime::Result<()>) {
        let memory = &store.data().memory;
        let usage = self.meter.usage(&store, memory);
        let result = result.map_err(|e| {
            let e = anyhow::Error::from(e);
            if self.expired.load(Ordering::Acquire) {
                return e.context(DeadlineExceeded(self.deadline));
            }
            classify(e, &self.meter, memory, &self.name)
        });
        // The store goes first: its instance is gone before its slots are given back.
        let ticket = store.into_data().request.take();
        match (ticket, result) {
            (Some(ticket), result) => ticket.finish(usage, result),
            (None, Err(e)) => {
                let id = self.id.get().map_or("-", |id| id);
                tracing::error!(request_id = %id, component = %self.name, error = ?e, "the WASI 0.3 instance failed");
            }
            (None, Ok(())) => {}
        }
    }
}

/// Whether `component` serves `wasi:http/handler@0.3.x`.
pub fn exports_handler(engine: &Engine, component: &wasmtime::component::Component) -> bool {
    component
        .component_type()
        .exports(engine)
        .any(|(n, _)| n.starts_with("wasi:http/handler@0.3."))
}

/// Serves one request with a 0.3 handler: the body limit, the deadline (504 when no
/// response came in time), a 500 naming a budget that stopped it, and a body that ends
/// abnormally when the instance fails after the head.
#[expect(
    clippy::too_many_arguments,
    reason = "the request's parts, reshaped in the next change"
)]
pub(crate) async fn call(
    shared: &crate::handler::Shared,
    served: &Served,
    handler: &Handler,
    id: &Arc<str>,
    req: hyper::Request<hyper::body::Incoming>,
    slots: Slots,
    report: &Arc<UsageReport>,
    fail: &(dyn Fn(hyper::StatusCode, &str) -> hyper::Response<HyperOutgoingBody> + Sync),
) -> Result<hyper::Response<HyperOutgoingBody>, hyper::Response<HyperOutgoingBody>> {
    use http_body_util::BodyExt;
    let limit = shared.options.max_body_bytes;
    let req = req.map(move |body| {
        http_body_util::Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
            .map_err(move |_| wasmtime_wasi_http::Error::HttpRequestBodySize(Some(limit)))
            .boxed_unsync()
    });
    let deadline = served
        .budget
        .deadline
        .map_or(shared.options.request_timeout, |d| {
            d.min(shared.options.request_timeout)
        });
    let failures = FailureLog {
        id: id.clone(),
        component: served.name.clone(),
        route: served.route.clone(),
        metrics: shared.metrics.clone(),
    };
    let (tx, ended) = oneshot::channel();
    let ticket = Ticket {
        id: id.clone(),
        _slots: slots,
        _live: shared.metrics.instance(),
        usage: report.clone(),
        failures,
        ended: tx,
    };
    let timed_out = || {
        named_budget(
            fail(
                hyper::StatusCode::GATEWAY_TIMEOUT,
                &format!("the component did not answer within its deadline of {deadline:?}"),
            ),
            "deadline",
        )
    };
    match tokio::time::timeout(deadline, handler.handle(ticket, req)).await {
        Ok(Ok(resp)) => {
            let cut = CutLog {
                id: id.clone(),
                component: served.name.clone(),
                status: resp.status().as_u16(),
            };
            Ok(Settled::response(resp, ended, cut))
        }
        // The instance ends at the same deadline and logs it.
        Ok(Err(e)) if e.is::<ExpirationError>() => Err(timed_out()),
        Err(_) => Err(timed_out()),
        Ok(Err(e)) if e.is::<TrapOrPanicError>() => {
            // The worker says why as it drops the instance, right after this error.
            match tokio::time::timeout(Duration::from_secs(5), ended).await {
                Ok(Ok(Err(e))) if past_deadline(&e) => Err(timed_out()),
                Ok(Ok(Err(e))) => Err(failed_response(&e, fail)),
                _ => Err(failed_response(&anyhow::Error::from(e), fail)),
            }
        }
        Ok(Err(e)) => {
            // Never reached an instance (it could not be made): nothing else logs it.
            let e = anyhow::Error::from(e);
            FailureLog {
                id: id.clone(),
                component: served.name.clone(),
                route: served.route.clone(),
                metrics: shared.metrics.clone(),
            }
            .log(failure_kind(&e), &e);
            Err(failed_response(&e, fail))
        }
    }
}
