//! Serving `wasi:http/incoming-handler@0.2.x` components: a fresh store per request (or an
//! idle one of a component that opts into reuse), the guest run on the request's task until
//! it answers, and beside the response while its body streams.

use std::pin::Pin;
use std::sync::Arc;

use hyper::{Request, Response, StatusCode};
use tokio::sync::oneshot;
use wasmhub_host::Driver;
use wasmtime::{Engine, Store};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};

use crate::call::{Answer, Call};
use crate::failure::{DeadlineExceeded, classify, failure_kind};
use crate::guest_log::RequestId;
use crate::reuse::{Kept, Pool};
use crate::slots::Slots;
use crate::state::ServeState;
use crate::store::new_store;

/// The guest's run: instantiate, call the handler, report usage; ends with the instance.
type Guest = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// What the handler's response-outparam received.
type Answered = Result<Result<Response<HyperOutgoingBody>, ErrorCode>, ()>;

/// A 0.2 component's handler: its pre-linked instance, and its idle instances when it
/// opts into reuse.
pub struct P2 {
    /// The engine its instances run on.
    pub engine: Engine,
    /// What a fresh instance is made from.
    pub pre: ProxyPre<ServeState>,
    /// Its idle instances, when its instances are reused.
    pub pool: Option<Arc<Pool>>,
}

/// A reused instance's request id, set as each request reaches it.
type IdCell = Arc<std::sync::Mutex<Arc<str>>>;

/// The instance a request runs in: a fresh store to instantiate in, or a kept instance.
struct Instance {
    store: Store<ServeState>,
    meter: wasmhub_core::Meter,
    /// Made already (a kept instance).
    proxy: Option<Proxy>,
    /// Where it goes back after the request, with its id cell and requests served.
    keep: Option<(Arc<Pool>, IdCell, u32)>,
}

/// A kept instance from `pool`, else a fresh store.
fn instance(
    engine: &Engine,
    call: &Call<'_>,
    pool: Option<&Arc<Pool>>,
) -> anyhow::Result<Instance> {
    let Some(pool) = pool else {
        let id = RequestId::Known(call.id.clone());
        let (store, meter) = new_store(engine, call.recipe, &id)?;
        return Ok(Instance {
            store,
            meter,
            proxy: None,
            keep: None,
        });
    };
    if let Some(mut kept) = pool.take() {
        if let Ok(mut id) = kept.id.lock() {
            *id = call.id.clone();
        }
        // Each request gets the whole fuel budget again.
        let _ = kept
            .store
            .set_fuel(call.recipe.budget.fuel.unwrap_or(u64::MAX));
        return Ok(Instance {
            store: kept.store,
            meter: kept.meter,
            proxy: Some(kept.proxy),
            keep: Some((pool.clone(), kept.id, kept.served + 1)),
        });
    }
    let id = Arc::new(std::sync::Mutex::new(call.id.clone()));
    let (store, meter) = new_store(engine, call.recipe, &RequestId::Current(id.clone()))?;
    Ok(Instance {
        store,
        meter,
        proxy: None,
        keep: Some((pool.clone(), id, 1)),
    })
}

/// Serves one request with a 0.2 handler, held to the component's deadline.
pub async fn call(
    engine: &Engine,
    call: &Call<'_>,
    handler: &P2,
    req: Request<HyperIncomingBody>,
    slots: Slots,
) -> Answer {
    let mut instance = instance(engine, call, handler.pool.as_ref()).map_err(|e| {
        tracing::error!(request_id = %call.id, component = %call.recipe.name, error = ?e, "cannot prepare the instance");
        call.fail(StatusCode::INTERNAL_SERVER_ERROR, "the host could not prepare the instance")
    })?;
    let store = &mut instance.store;
    let (tx, mut rx) = oneshot::channel();
    let resources = (|| {
        let mut http = store.data_mut().http();
        let req = http.new_incoming_request(Scheme::Http, req)?;
        let out = http.new_response_outparam(tx)?;
        anyhow::Ok((req, out))
    })();
    let (wreq, out) = resources.map_err(|e| {
        tracing::warn!(request_id = %call.id, error = ?e, "bad request");
        crate::respond::plain(
            StatusCode::BAD_REQUEST,
            call.id,
            format!("bad request: {e}"),
        )
    })?;
    let mut guest = run(call, handler.pre.clone(), instance, wreq, out, slots);
    // Run the guest on this task (no hop to another thread) until it answers or ends.
    let deadline = call.deadline;
    let waited = tokio::time::timeout(deadline.saturating_sub(call.start.elapsed()), async {
        tokio::select! {
            biased;
            resp = &mut rx => (resp.map_err(drop), None),
            done = &mut guest => (rx.try_recv().map_err(drop), Some(done)),
        }
    })
    .await;
    let Ok((answer, finished)) = waited else {
        drop(guest);
        call.failures()
            .log("deadline", &format!("no response within {deadline:?}"));
        return Err(call.timed_out());
    };
    settle(call, answer, finished, guest).await
}

/// The guest's run, holding the request's slots and the live-instance gauge until the
/// instance ends (or, reused, goes back to its pool after a clean end): never past the
/// deadline, body streaming included.
fn run(
    call: &Call<'_>,
    pre: ProxyPre<ServeState>,
    instance: Instance,
    wreq: wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostIncomingRequest>,
    out: wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostResponseOutparam>,
    slots: Slots,
) -> Guest {
    let live = call.metrics.instance();
    let metrics = call.metrics.clone();
    let (id, name, usage) = (
        call.id.clone(),
        call.recipe.name.clone(),
        call.usage.clone(),
    );
    let deadline = call.deadline;
    let Instance {
        mut store,
        meter,
        proxy,
        keep,
    } = instance;
    // Polls the link targets' WASI 0.3 loops beside the handler's call.
    let driver = store.data().links.driver();
    Box::pin(async move {
        let _held = (slots, live);
        let mut made = proxy;
        let run = async {
            let proxy = match made.take() {
                Some(proxy) => proxy,
                None => pre.instantiate_async(&mut store).await?,
            };
            let call = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, wreq, out);
            let result = Driver::run(driver.as_ref(), call).await;
            made = Some(proxy);
            result
        };
        let result = match tokio::time::timeout(deadline, run).await {
            Ok(r) => r.map_err(anyhow::Error::from),
            Err(_) => Err(DeadlineExceeded(deadline).into()),
        };
        let memory = &store.data().memory;
        let used = meter.usage(&store, memory);
        metrics.usage(used.fuel, used.peak_memory);
        usage.finish(used, &id, &name);
        let result = result.map_err(|e| classify(e, &meter, memory, &name));
        // Only an instance that ended cleanly serves again.
        if let (Ok(()), Some(proxy), Some((pool, id, served))) = (&result, made, keep) {
            pool.put(Kept::new(store, proxy, meter, id, served));
        }
        result
    })
}

/// The answer, from what the outparam received and whether the guest has ended.
async fn settle(
    call: &Call<'_>,
    answer: Answered,
    finished: Option<anyhow::Result<()>>,
    guest: Guest,
) -> Answer {
    let failures = call.failures();
    match (answer, finished) {
        (Ok(Ok(resp)), None) => {
            // The guest is still writing the body: let it finish beside the response, whose
            // body ends only once the guest has (abnormally if it failed).
            let (tx, ended) = oneshot::channel();
            tokio::spawn(async move {
                let result = guest.await;
                if let Err(e) = &result {
                    failures.log(failure_kind(e), e);
                }
                let _ = tx.send(result);
            });
            Ok(call.settle(resp, ended))
        }
        (Ok(Ok(resp)), Some(Ok(()))) => Ok(resp),
        (Ok(Ok(_)), Some(Err(e))) => {
            // It failed after setting a response (setting it twice is one way): the head is
            // not sent yet, so the client learns the truth.
            failures.log(failure_kind(&e), &e);
            Err(call.failed(&e))
        }
        (Ok(Err(code)), _) => {
            failures.log("error-code", &code);
            Err(call.fail(
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
                Err(e) => {
                    failures.log(failure_kind(&e), &e);
                    Err(call.failed(&e))
                }
                Ok(()) => {
                    failures.log("no-response", &"returned without setting a response");
                    Err(call.fail(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the component returned without a response",
                    ))
                }
            }
        }
    }
}
