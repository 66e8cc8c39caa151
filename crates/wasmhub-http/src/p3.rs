//! Serving `wasi:http/handler@0.3.x` components: Wasmtime's handler machinery, with one
//! request per instance (a fresh store each time, as for 0.2) and the request's deadline.
//!
//! The request's [`Ticket`] moves into the instance's store, so its slots are given back
//! only when the instance ends: after the body has streamed, not at the response head.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
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

use crate::call::{Answer, Call};
use crate::failure::{DeadlineExceeded, classify, failure_kind};
use crate::guest_log::RequestId;
use crate::slots::Slots;
use crate::state::ServeState;
use crate::store::{Recipe, new_store};
use crate::ticket::Ticket;
use wasmhub_host::Driver;
use wasmtime_wasi_http::p2::body::HyperIncomingBody;

/// A 0.3 handler: instantiates a fresh instance for every request.
pub type Handler = ProxyHandler<Fresh>;

/// What a worker needs to make its instance.
pub struct Fresh {
    engine: Engine,
    pre: ProxyPre<ServeState>,
    recipe: Arc<Recipe>,
    deadline: Duration,
}

/// Builds the handler for a component of `recipe` that exports `wasi:http/handler@0.3.x`.
pub fn handler(
    engine: &Engine,
    pre: ServicePre<ServeState>,
    recipe: Arc<Recipe>,
    deadline: Duration,
) -> Arc<Handler> {
    Arc::new(ProxyHandler::new(Fresh {
        engine: engine.clone(),
        pre: ProxyPre::P3(pre),
        recipe,
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
            new_store(&self.engine, &self.recipe, &RequestId::Later(id.clone()))
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
                name: self.recipe.name.clone(),
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
        let ticket = store.into_data().request;
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

/// Serves one request with a 0.3 handler: 504 when no response came within the deadline,
/// the failure's answer when the instance failed first, and a body that ends abnormally
/// when it fails after the head.
pub async fn call(
    call: &Call<'_>,
    handler: &Handler,
    req: hyper::Request<HyperIncomingBody>,
    slots: Slots,
) -> Answer {
    let (ticket, ended) = Ticket::new(slots, call.usage.clone(), call.failures());
    let deadline = call.deadline;
    match tokio::time::timeout(deadline, handler.handle(ticket, req)).await {
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
