//! Serving `wasi:http/handler@0.3.x` components: Wasmtime's handler machinery, with one
//! request per instance (a fresh store each time, as for 0.2) and the request's deadline.

use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::Notify;
use wasmtime::component::GuestTaskId;
use wasmtime::{Engine, Store, StoreContextMut};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::handler::{
    ExpirationError, HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept,
    TrapOrPanicError, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::p3::bindings::ServicePre;

use crate::guest_log::RequestId;
use crate::prepared::Served;
use crate::state::ServeState;
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
        // The instance is made before the request reaches it: the id comes with the request.
        let id = Arc::new(OnceLock::new());
        let (mut store, _meter) =
            crate::handler::new_store(&self.engine, &self.served, &RequestId::Later(id.clone()))
                .map_err(wasmtime::Error::from_anyhow)?;
        let proxy = self.pre.instantiate_async(&mut store).await?;
        let links = store.data().links.driver();
        Ok(Instance {
            store,
            proxy,
            view: <ServeState as WasiHttpView>::http,
            expiration: Expiry {
                sleep: Box::pin(tokio::time::sleep(self.deadline)),
                limit: self.deadline,
                links,
            },
            state: OneRequest {
                name: self.served.name.clone(),
                deadline: self.deadline,
                id,
            },
        })
    }
}

/// Ends a worker at the request's deadline (also while its body still streams).
///
/// The worker polls it outside the instance's event loop, each time it wakes: the one place
/// the loops of the request's WASI 0.3 link targets can be polled on the request's task.
pub struct Expiry {
    sleep: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
    links: Option<Driver>,
}

impl WorkerExpiration for Expiry {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        _status: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        if let Some(links) = &self.links {
            links.poll(cx);
        }
        let at = tokio::time::Instant::from_std(start + self.limit);
        if self.sleep.deadline() != at {
            self.sleep.as_mut().reset(at);
        }
        self.sleep.as_mut().poll(cx)
    }
}

/// How one request's instance ended, for the response when it failed before answering.
pub struct Report {
    id: Arc<str>,
    failure: Mutex<Option<String>>,
    ended: Notify,
}

impl Report {
    fn new(id: Arc<str>) -> Arc<Self> {
        Arc::new(Self {
            id,
            failure: Mutex::new(None),
            ended: Notify::new(),
        })
    }

    /// Why the instance failed, waiting briefly for the worker to say (it may lag the answer).
    async fn failure(&self) -> Option<String> {
        let _ = tokio::time::timeout(Duration::from_millis(200), self.ended.notified()).await;
        self.failure.lock().unwrap().clone()
    }
}

/// A worker that takes one request: every request gets a fresh instance.
pub struct OneRequest {
    name: Arc<str>,
    deadline: Duration,
    /// The request id its guest's log lines carry, set when the request arrives.
    id: Arc<OnceLock<Arc<str>>>,
}

impl WorkerState for OneRequest {
    type StoreData = ServeState;
    type RequestData = Arc<Report>;

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
        report: Arc<Report>,
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        let _ = self.id.set(report.id.clone());
        store.data_mut().report = Some(report);
        Box::pin(tokio::time::sleep(self.deadline))
    }

    fn drop(&self, store: Store<ServeState>, result: wasmtime::Result<()>) {
        let report = store.into_data().report;
        if let Err(e) = result {
            // Through anyhow, so the causes of an error a host function returned show too.
            let why = format!("{:#}", anyhow::Error::from(e));
            let id = self.id.get().map_or("-", |id| id);
            tracing::error!(request_id = %id, component = %self.name, error = %why, "the WASI 0.3 instance failed");
            if let Some(r) = &report {
                *r.failure.lock().unwrap() = Some(why);
            }
        }
        if let Some(r) = report {
            r.ended.notify_one();
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

/// Serves one request through `handler`, held to `deadline`; a failure says why the
/// instance failed when the worker reported it.
async fn respond(
    handler: &Handler,
    id: &Arc<str>,
    req: wasmtime_wasi_http::handler::Request,
    deadline: Duration,
) -> Result<wasmtime_wasi_http::handler::Response, Option<anyhow::Error>> {
    let report = Report::new(id.clone());
    match tokio::time::timeout(deadline, handler.handle(report.clone(), req)).await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) if e.is::<TrapOrPanicError>() => Err(Some(match report.failure().await {
            Some(why) => anyhow::anyhow!("{why}"),
            None => anyhow::Error::from(e),
        })),
        // The request's own expiry (the same deadline) may fire before the timeout here.
        Ok(Err(e)) if e.is::<ExpirationError>() => Err(None),
        Ok(Err(e)) => Err(Some(anyhow::Error::from(e))),
        Err(_) => Err(None),
    }
}

/// Serves one request with a 0.3 handler: the body limit, the deadline (504 when no
/// response came in time) and a 500 naming the failure otherwise.
pub(crate) async fn call(
    shared: &crate::handler::Shared,
    served: &Served,
    handler: &Handler,
    id: &Arc<str>,
    req: hyper::Request<hyper::body::Incoming>,
    permit: crate::slots::Slots,
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
    let _live = shared.metrics.instance();
    let answer = respond(handler, id, req, deadline).await;
    drop(permit);
    match answer {
        Ok(resp) => Ok(resp),
        Err(None) => {
            shared.metrics.failure("deadline");
            tracing::error!(request_id = %id, component = %served.name, "no response within {deadline:?}");
            Err(fail(
                hyper::StatusCode::GATEWAY_TIMEOUT,
                &format!("the component did not answer within its deadline of {deadline:?}"),
            ))
        }
        Err(Some(e)) => {
            shared.metrics.failure("trap");
            tracing::error!(request_id = %id, component = %served.name, error = %format!("{e:#}"), "the guest failed");
            Err(fail(
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the component failed: {e:#}"),
            ))
        }
    }
}
