//! Serving `wasi:http/incoming-handler@0.2.x` components: a fresh store per request, the
//! guest run on the request's task until it answers, and beside the response while its
//! body streams.

use std::pin::Pin;

use hyper::{Request, Response, StatusCode};
use tokio::sync::oneshot;
use wasmhub_host::Driver;
use wasmtime::{Engine, Store};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};

use crate::call::{Answer, Call};
use crate::failure::{DeadlineExceeded, classify, failure_kind};
use crate::guest_log::RequestId;
use crate::slots::Slots;
use crate::state::ServeState;
use crate::store::new_store;

/// The guest's run: instantiate, call the handler, report usage; ends with the instance.
type Guest = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// What the handler's response-outparam received.
type Answered = Result<Result<Response<HyperOutgoingBody>, ErrorCode>, ()>;

/// Serves one request with a 0.2 handler, held to the component's deadline.
pub async fn call(
    engine: &Engine,
    call: &Call<'_>,
    pre: &ProxyPre<ServeState>,
    req: Request<HyperIncomingBody>,
    slots: Slots,
) -> Answer {
    let id = RequestId::Known(call.id.clone());
    let (mut store, meter) = new_store(engine, call.recipe, &id).map_err(|e| {
        tracing::error!(request_id = %call.id, component = %call.recipe.name, error = ?e, "cannot prepare the instance");
        call.fail(StatusCode::INTERNAL_SERVER_ERROR, "the host could not prepare the instance")
    })?;
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
    let mut guest = run(call, pre.clone(), store, meter, wreq, out, slots);
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
/// instance ends: never past the deadline, body streaming included.
fn run(
    call: &Call<'_>,
    pre: ProxyPre<ServeState>,
    mut store: Store<ServeState>,
    meter: wasmhub_core::Meter,
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
    // Polls the link targets' WASI 0.3 loops beside the handler's call.
    let driver = store.data().links.driver();
    Box::pin(async move {
        let _held = (slots, live);
        let run = async {
            let proxy = pre.instantiate_async(&mut store).await?;
            let call = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, wreq, out);
            Driver::run(driver.as_ref(), call).await
        };
        let result = match tokio::time::timeout(deadline, run).await {
            Ok(r) => r.map_err(anyhow::Error::from),
            Err(_) => Err(DeadlineExceeded(deadline).into()),
        };
        let memory = &store.data().memory;
        let used = meter.usage(&store, memory);
        metrics.usage(used.fuel, used.peak_memory);
        usage.finish(used, &id, &name);
        result.map_err(|e| classify(e, &meter, memory, &name))
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
