//! One request: route it, instantiate a fresh instance, call its handler, map failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use wasmtime::{Engine, Store};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

use crate::ServeOptions;
use http_body_util::BodyExt;

use crate::body::{CutLog, Settled};
use crate::failure::{
    DeadlineExceeded, FailureLog, classify, failed_response, failure_kind, named_budget,
    past_deadline,
};
use crate::guest_log::{GuestLog, RequestId};
use crate::metrics::Metrics;
use crate::prepared::{PreparedApp, Served};
use crate::respond::{REQUEST_ID, plain};
use crate::state::ServeState;
use crate::usage::UsageReport;
use wasmhub_host::{Driver, LinkCtx, Outbound};

/// Everything requests share.
pub struct Shared {
    pub engine: Engine,
    pub app: PreparedApp,
    pub options: ServeOptions,
    /// The host's cap on instances alive at once.
    pub instances: crate::slots::Limit,
    pub metrics: Arc<Metrics>,
    next_id: AtomicU64,
}

impl Shared {
    pub fn new(engine: Engine, app: PreparedApp, options: ServeOptions) -> Self {
        Self {
            engine,
            app,
            instances: crate::slots::Limit::new(options.max_instances),
            options,
            metrics: Arc::default(),
            next_id: AtomicU64::new(1),
        }
    }
}

/// Serves one request; never fails: every failure is a response with the request id.
pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<HyperOutgoingBody> {
    let start = Instant::now();
    let id: Arc<str> = format!("{:016x}", shared.next_id.fetch_add(1, Ordering::Relaxed)).into();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let Some(served) = shared
        .app
        .app
        .route(&path)
        .and_then(|i| shared.app.served[i].as_ref())
    else {
        let resp = plain(
            StatusCode::NOT_FOUND,
            &id,
            format!("no route matches {path}"),
        );
        access(
            &shared,
            &id,
            "-",
            "-",
            &method,
            &path,
            resp.status(),
            start,
            None,
        );
        return resp;
    };
    let report = Arc::new(UsageReport::default());
    let resp = match call(&shared, served, &id, req, start, &report).await {
        Ok(mut resp) => {
            if let Ok(v) = header::HeaderValue::from_str(&id) {
                resp.headers_mut().insert(REQUEST_ID, v);
            }
            resp
        }
        Err(resp) => resp,
    };
    access(
        &shared,
        &id,
        &served.name,
        &served.route,
        &method,
        &path,
        resp.status(),
        start,
        report.for_access_line(),
    );
    resp
}

#[expect(
    clippy::too_many_arguments,
    reason = "one access-log line names each field"
)]
fn access(
    shared: &Shared,
    id: &str,
    component: &str,
    route: &str,
    method: &hyper::Method,
    path: &str,
    status: StatusCode,
    start: Instant,
    usage: Option<wasmhub_core::Usage>,
) {
    shared.metrics.request(status.as_u16(), start.elapsed());
    tracing::info!(
        target: "wasmhub::access",
        request_id = id,
        component,
        route,
        method = %method,
        path,
        status = status.as_u16(),
        latency_us = start.elapsed().as_micros() as u64,
        fuel = usage.and_then(|u| u.fuel),
        peak_memory = usage.map(|u| u.peak_memory),
    );
}

type Failed = Response<HyperOutgoingBody>;

async fn call(
    shared: &Shared,
    served: &Served,
    id: &Arc<str>,
    req: Request<Incoming>,
    start: Instant,
    report: &Arc<UsageReport>,
) -> Result<Response<HyperOutgoingBody>, Failed> {
    let fail = |status: StatusCode, what: &str| {
        plain(
            status,
            id,
            format!("{what} (component \"{}\", request id {id})", served.name),
        )
    };
    let permit = match crate::slots::take(&shared.instances, &served.instances) {
        Ok(slots) => slots,
        Err(full) => {
            shared.metrics.failure("overloaded");
            let (whose, fix) = match full {
                crate::slots::Full::Component(n) => (
                    "this component",
                    format!(
                        "component instance limit ({n}) reached; raise `instances` under \
                         [component.{}.budget] or --max-component-instances",
                        served.name
                    ),
                ),
                crate::slots::Full::Host(n) => (
                    "this host",
                    format!("host instance limit ({n}) reached; raise --max-instances"),
                ),
            };
            tracing::warn!(request_id = %id, component = %served.name, "{fix}: answering 503");
            return Err(fail(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("too many requests in flight for {whose}; retry"),
            ));
        }
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > shared.options.max_body_bytes
    {
        return Err(fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the body is {len} bytes; this server accepts at most {}",
                shared.options.max_body_bytes
            ),
        ));
    }
    if let Some(handler) = &served.p3 {
        return crate::p3::call(shared, served, handler, id, req, permit, report, &fail).await;
    }
    let (mut store, meter) = new_store(&shared.engine, served, &RequestId::Known(id.clone())).map_err(|e| {
        tracing::error!(request_id = %id, component = %served.name, error = ?e, "cannot prepare the instance");
        fail(StatusCode::INTERNAL_SERVER_ERROR, "the host could not prepare the instance")
    })?;
    let limit = shared.options.max_body_bytes;
    let req = req.map(move |body| {
        http_body_util::Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
            .map_err(move |_| wasmtime_wasi_http::Error::HttpRequestBodySize(Some(limit)))
    });
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    let resources = (|| {
        let mut http = store.data_mut().http();
        let req = http.new_incoming_request(Scheme::Http, req)?;
        let out = http.new_response_outparam(tx)?;
        anyhow::Ok((req, out))
    })();
    let (wreq, out) = resources.map_err(|e| {
        tracing::warn!(request_id = %id, error = ?e, "bad request");
        plain(StatusCode::BAD_REQUEST, id, format!("bad request: {e}"))
    })?;

    let deadline = served
        .budget
        .deadline
        .map_or(shared.options.request_timeout, |d| {
            d.min(shared.options.request_timeout)
        });
    let pre = served
        .pre
        .clone()
        .expect("a served component has a 0.2 or a 0.3 handler");
    let live = shared.metrics.instance();
    let metrics = shared.metrics.clone();
    let (rid, name, report) = (id.clone(), served.name.clone(), report.clone());
    // Polls the link targets' WASI 0.3 loops beside the handler's call.
    let driver = store.data().links.driver();
    let mut guest = Box::pin(async move {
        let _permit = permit;
        let _live = live;
        let run = async {
            let proxy = pre.instantiate_async(&mut store).await?;
            let call = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, wreq, out);
            Driver::run(driver.as_ref(), call).await
        };
        // The instance never outlives the request's deadline, body streaming included.
        let result = match tokio::time::timeout(deadline, run).await {
            Ok(r) => r.map_err(anyhow::Error::from),
            Err(_) => Err(DeadlineExceeded(deadline).into()),
        };
        let memory = &store.data().memory;
        let usage = meter.usage(&store, memory);
        metrics.usage(usage.fuel, usage.peak_memory);
        report.finish(usage, &rid, &name);
        result.map_err(|e| classify(e, &meter, memory, &name))
    });
    let failures = FailureLog {
        id: id.clone(),
        component: served.name.clone(),
        route: served.route.clone(),
        metrics: shared.metrics.clone(),
    };

    // Run the guest on this task (no hop to another thread) until it answers or ends.
    let waited = tokio::time::timeout(deadline.saturating_sub(start.elapsed()), async {
        tokio::select! {
            biased;
            resp = &mut rx => (resp.map_err(drop), None),
            done = &mut guest => (rx.try_recv().map_err(drop), Some(done)),
        }
    })
    .await;
    let Ok((answer, finished)) = waited else {
        drop(guest);
        failures.log("deadline", &format!("no response within {deadline:?}"));
        return Err(named_budget(
            fail(
                StatusCode::GATEWAY_TIMEOUT,
                &format!("the component did not answer within its deadline of {deadline:?}"),
            ),
            "deadline",
        ));
    };
    match (answer, finished) {
        (Ok(Ok(resp)), None) => {
            // The guest is still writing the body: let it finish beside the response, whose
            // body ends only once the guest has (abnormally if it failed).
            let (tx, outcome) = tokio::sync::oneshot::channel();
            let cut = CutLog {
                id: id.clone(),
                component: served.name.clone(),
                status: resp.status().as_u16(),
            };
            tokio::spawn(async move {
                let ended = guest.await;
                if let Err(e) = &ended {
                    failures.log(failure_kind(e), e);
                }
                let _ = tx.send(ended);
            });
            Ok(Settled::response(resp, outcome, cut))
        }
        (Ok(Ok(resp)), Some(Ok(()))) => Ok(resp),
        (Ok(Ok(_)), Some(Err(e))) => {
            // It failed after setting a response (setting it twice is one way): the head is
            // not sent yet, so the client learns the truth.
            failures.log(failure_kind(&e), &e);
            Err(failed_response(&e, fail))
        }
        (Ok(Err(code)), _) => {
            failures.log("error-code", &code);
            Err(fail(
                StatusCode::BAD_GATEWAY,
                &format!("the component answered with an error: {code:?}"),
            ))
        }
        (Err(()), finished) => {
            let done = match finished {
                Some(done) => done,
                None => guest.await,
            };
            match done {
                Err(e) if past_deadline(&e) => {
                    failures.log("deadline", &e);
                    Err(named_budget(
                        fail(
                            StatusCode::GATEWAY_TIMEOUT,
                            &format!(
                                "the component did not answer within its deadline of {deadline:?}"
                            ),
                        ),
                        "deadline",
                    ))
                }
                Err(e) => {
                    let kind = failure_kind(&e);
                    failures.log(kind, &e);
                    Err(failed_response(&e, fail))
                }
                Ok(()) => {
                    failures.log("no-response", &"returned without setting a response");
                    Err(fail(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the component returned without a response",
                    ))
                }
            }
        }
    }
}

/// A fresh store for one instance of `served`, its guest output logged under request `id`.
pub(crate) fn new_store(
    engine: &wasmtime::Engine,
    served: &Served,
    id: &RequestId,
) -> anyhow::Result<(Store<ServeState>, wasmhub_core::Meter)> {
    let mut wasi = wasmhub_caps::wasi_builder(&served.grants)?;
    let log = |stream| GuestLog {
        request_id: id.clone(),
        component: served.name.clone(),
        stream,
    };
    wasi.stdout(log("stdout")).stderr(log("stderr"));
    let state = ServeState {
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        table: wasmtime::component::ResourceTable::new(),
        hooks: Outbound {
            rules: served.outbound.clone(),
            component: served.name.clone(),
        },
        memory: wasmhub_core::MemoryMeter::new(served.budget.memory),
        links: served
            .links
            .as_ref()
            .map_or_else(LinkCtx::default, LinkCtx::root),
        request: None,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.memory);
    // Yield to the runtime at every epoch tick so a busy guest never holds a worker thread,
    // and give way to shorter requests once it has run long; the request's deadline is
    // enforced by the timeouts around it.
    crate::give_way::install(&mut store, &served.lanes);
    // Fuel and memory from the budget; its deadline is the timeout around the request.
    let budget = wasmhub_app::Budget {
        deadline: None,
        ..served.budget
    };
    let meter = wasmhub_core::Meter::install(&mut store, &budget);
    Ok((store, meter))
}
