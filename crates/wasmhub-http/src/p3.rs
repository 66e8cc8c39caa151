//! Serving `wasi:http/handler@0.3.x` components: Wasmtime's handler machinery, with one
//! request per instance (a fresh store each time, as for 0.2) and the request's deadline,
//! or, for a component that opts in, up to `reuse` requests per instance ([`crate::reuse`]).
//!
//! A fresh instance's request moves its [`Ticket`] into the store, so its slots are given
//! back only when the instance ends: after the body has streamed, not at the response head.
//! A reused instance's request keeps its ticket, and gives it back when its body ends.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasmtime::component::GuestTaskId;
use wasmtime::{Engine, Store, StoreContextMut};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::handler::{
    ExpirationError, HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept,
    TrapOrPanicError, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::p3::bindings::ServicePre;

use crate::body::{Held, OnDrop};
use crate::call::{Answer, Call};
use crate::failure::{DeadlineExceeded, classify, failure_kind};
use crate::guest_log::RequestId;
use crate::reuse::{Fate, Policy};
use crate::slots::Slots;
use crate::state::ServeState;
use crate::store::{Recipe, new_store};
use crate::ticket::Ticket;
use wasmhub_host::Driver;
use wasmtime_wasi_http::p2::body::HyperIncomingBody;

/// A 0.3 handler: a fresh instance for every request, or reused ones when opted in.
pub type Handler = ProxyHandler<Maker>;

/// What a worker needs to make its instance.
pub struct Maker {
    engine: Engine,
    pre: ProxyPre<ServeState>,
    recipe: Arc<Recipe>,
    deadline: Duration,
    reuse: Option<Policy>,
}

/// Builds the handler for a component of `recipe` that exports `wasi:http/handler@0.3.x`.
pub fn handler(
    engine: &Engine,
    pre: ServicePre<ServeState>,
    recipe: Arc<Recipe>,
    deadline: Duration,
    reuse: Option<Policy>,
) -> Arc<Handler> {
    Arc::new(ProxyHandler::new(Maker {
        engine: engine.clone(),
        pre: ProxyPre::P3(pre),
        recipe,
        deadline,
        reuse,
    }))
}

/// Whether requests to `handler` share instances.
pub fn reuses(handler: &Handler) -> bool {
    handler.state().reuse.is_some()
}

impl HandlerState for Maker {
    type StoreData = ServeState;
    type WorkerExpiration = Expiry;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<ServeState, Expiry, Worker>> {
        // The instance is made as its request arrives, before the request reaches it: the
        // id comes with the request.
        let id = Arc::new(Mutex::new(Arc::from("-")));
        let (mut store, meter) =
            new_store(&self.engine, &self.recipe, &RequestId::Current(id.clone()))
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
                deadline: self.deadline,
                idle: self.reuse.map(|r| r.idle),
            },
            state: Worker {
                name: self.recipe.name.clone(),
                deadline: self.deadline,
                fuel: self.recipe.budget.fuel,
                id,
                meter,
                expired,
                reuse: self.reuse.map(|policy| (policy, Arc::new(Fate::default()))),
            },
        })
    }
}

/// Ends a worker at the request's deadline, counted from when its instance was made (as
/// the request arrived), whatever the worker is doing: answering, streaming its body, or
/// post-return work. (Wasmtime's `start` restarts when the response is produced, so it is
/// not used for a fresh instance: measuring from it would let an instance live about twice
/// its deadline.) A reused instance is ended a deadline after its latest request started
/// (each request also expires on its own, which stops the instance taking more), or once it
/// has been idle for its idle timeout.
///
/// The worker polls it outside the instance's event loop, each time it wakes: the one place
/// the loops of the request's WASI 0.3 link targets can be polled on the request's task.
pub struct Expiry {
    sleep: Pin<Box<tokio::time::Sleep>>,
    links: Option<Driver>,
    /// Set when the deadline ended the worker, so its end is counted as `deadline`.
    expired: Arc<AtomicBool>,
    deadline: Duration,
    /// A reused instance's idle timeout.
    idle: Option<Duration>,
}

impl WorkerExpiration for Expiry {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        if let Some(links) = &self.links {
            links.poll(cx);
        }
        if let Some(idle) = self.idle {
            let wait = match status {
                WorkerStatus::Idle => idle,
                WorkerStatus::Requests | WorkerStatus::PostReturn => self.deadline,
            };
            let at = tokio::time::Instant::from_std(start + wait);
            if self.sleep.deadline() != at {
                self.sleep.as_mut().reset(at);
            }
        }
        let done = self.sleep.as_mut().poll(cx);
        if done.is_ready() && status != WorkerStatus::Idle {
            self.expired.store(true, Ordering::Release);
        }
        done
    }
}

/// A request's claim as it reaches an instance.
pub enum Claim {
    /// A fresh instance's one request: the instance holds its ticket to its end.
    Own(Ticket),
    /// A reused instance's request, told which instance took it.
    Shared(tokio::sync::oneshot::Sender<Arc<Fate>>),
}

/// One instance's worker: one request (fresh), or up to its policy's (reused).
pub struct Worker {
    name: Arc<str>,
    deadline: Duration,
    /// Fuel per request (refilled as each request of a reused instance starts).
    fuel: Option<u64>,
    /// The request id its guest's log lines carry, set as each request arrives.
    id: Arc<Mutex<Arc<str>>>,
    meter: wasmhub_core::Meter,
    expired: Arc<AtomicBool>,
    reuse: Option<(Policy, Arc<Fate>)>,
}

impl WorkerState for Worker {
    type StoreData = ServeState;
    type RequestData = Claim;

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        let Some((policy, fate)) = &self.reuse else {
            return if total == 0 {
                ShouldAccept::Yes
            } else {
                ShouldAccept::Never
            };
        };
        if fate.is_spoiled() || total >= policy.max as usize {
            ShouldAccept::Never
        } else if concurrent >= policy.concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        mut store: StoreContextMut<'_, ServeState>,
        claim: Claim,
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        match claim {
            Claim::Own(ticket) => {
                if let Ok(mut id) = self.id.lock() {
                    *id = ticket.id.clone();
                }
                store.data_mut().request = Some(ticket);
            }
            Claim::Shared(tell) => {
                // Each request of a reused instance gets the whole fuel budget again.
                let _ = store.set_fuel(self.fuel.unwrap_or(u64::MAX));
                if let Some((_, fate)) = &self.reuse {
                    let _ = tell.send(fate.clone());
                }
            }
        }
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
        let id = self
            .id
            .lock()
            .map(|id| id.clone())
            .unwrap_or_else(|_| "-".into());
        if let Some((_, fate)) = &self.reuse {
            // Said before the store goes, so a body that ends with it is seen to be cut.
            if let Err(e) = result {
                tracing::error!(request_id = %id, component = %self.name, error = ?e, "the reused WASI 0.3 instance failed; the next request gets a fresh one");
                fate.fail(e);
            }
            return;
        }
        // The store goes first: its instance is gone before its slots are given back.
        let ticket = store.into_data().request;
        match (ticket, result) {
            (Some(ticket), result) => ticket.finish(Some(usage), result),
            (None, Err(e)) => {
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

/// Serves one request with a 0.3 handler: 504 when no response came within the deadline,
/// the failure's answer when the instance failed first, and a body that ends abnormally
/// when it fails after the head.
pub async fn call(
    call: &Call<'_>,
    handler: &Handler,
    req: hyper::Request<HyperIncomingBody>,
    slots: Slots,
) -> Answer {
    if reuses(handler) {
        return call_reused(call, handler, req, slots).await;
    }
    let (ticket, ended) = Ticket::new(slots, call.usage.clone(), call.failures());
    let deadline = call.deadline;
    match tokio::time::timeout(deadline, handler.handle(Claim::Own(ticket), req)).await {
        Ok(Ok(resp)) => Ok(call.settle(resp, ended)),
        // The instance ends at the same deadline, and its ticket logs it.
        Ok(Err(e)) if e.is::<ExpirationError>() => Err(call.timed_out()),
        Err(_) => Err(call.timed_out()),
        Ok(Err(e)) if e.is::<TrapOrPanicError>() => {
            // The worker says why as it drops the instance, right after this error.
            match tokio::time::timeout(Duration::from_secs(5), ended).await {
                Ok(Ok(Err(e))) => Err(call.failed(&e)),
                _ => Err(call.failed(&anyhow::Error::from(e))),
            }
        }
        Ok(Err(e)) => {
            // It never reached an instance (none could be made): nothing else logs it.
            let e = anyhow::Error::from(e);
            call.failures().log(failure_kind(&e), &e);
            Err(call.failed(&e))
        }
    }
}

/// Serves one request on a reused instance: the request keeps its ticket and gives it
/// back when its body ends (cut if the instance failed first); any failure spoils the
/// instance, so the next request gets a fresh one.
async fn call_reused(
    call: &Call<'_>,
    handler: &Handler,
    req: hyper::Request<HyperIncomingBody>,
    slots: Slots,
) -> Answer {
    use http_body_util::BodyExt;
    let (ticket, ended) = Ticket::new(slots, call.usage.clone(), call.failures());
    let (tell, mut told) = tokio::sync::oneshot::channel();
    let answer =
        tokio::time::timeout(call.deadline, handler.handle(Claim::Shared(tell), req)).await;
    let fate = told.try_recv().ok();
    let e = match answer {
        Ok(Ok(resp)) => {
            let fate = fate.unwrap_or_default();
            let resp = resp.map(|body| {
                let on_end = OnDrop::new(move || {
                    ticket.finish(None, fate.failure().map_or(Ok(()), Err));
                });
                Held::new(body, on_end).boxed_unsync()
            });
            return Ok(call.settle(resp, ended));
        }
        Ok(Err(e)) if e.is::<ExpirationError>() => DeadlineExceeded(call.deadline).into(),
        Err(_) => DeadlineExceeded(call.deadline).into(),
        Ok(Err(e)) if e.is::<TrapOrPanicError>() => match &fate {
            // The worker says why as it drops the instance, right after this error.
            Some(fate) => fate
                .failed_within(Duration::from_secs(5))
                .await
                .unwrap_or_else(|| e.into()),
            None => e.into(),
        },
        Ok(Err(e)) => anyhow::Error::from(e),
    };
    if let Some(fate) = &fate {
        fate.spoil();
    }
    let resp = call.failed(&e);
    ticket.finish(None, Err(e));
    Err(resp)
}
