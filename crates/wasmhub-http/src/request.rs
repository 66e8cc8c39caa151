//! One request: its id, its route in the generation it was given, the instance slots it
//! takes, its body limit, then the component's WASI 0.2 or 0.3 path, and the access line.

use std::sync::Arc;
use std::time::Instant;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};

use crate::access::Access;
use crate::call::{Answer, Call};
use crate::generation::Generation;
use crate::prepared::{Handler, Served};
use crate::respond::{REQUEST_ID, plain};
use crate::shared::Shared;
use crate::slots::Full;
use crate::usage::UsageReport;

/// Serves one request in `generation` (the caller holds it until the response body ends);
/// never fails: every failure is a response with the request id.
pub async fn handle(
    shared: Arc<Shared>,
    generation: &Generation,
    mut req: Request<Incoming>,
) -> Response<HyperOutgoingBody> {
    let start = Instant::now();
    let id = shared.request_id(&mut req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let Some(served) = generation.app.route(&path) else {
        let resp = match generation.app.unavailable(&path) {
            Some((name, why)) => plain(
                StatusCode::SERVICE_UNAVAILABLE,
                &id,
                format!("component \"{name}\" cannot run yet: {why}"),
            ),
            None => plain(
                StatusCode::NOT_FOUND,
                &id,
                format!("no route matches {path}"),
            ),
        };
        let access = Access {
            id: &id,
            component: "-",
            route: "-",
            method: &method,
            path: &path,
        };
        access.log(&shared.metrics, resp.status(), start, None);
        return resp;
    };
    crate::spin::add_headers(&generation.app, &mut req, &path);
    let usage = Arc::new(UsageReport::default());
    let call = Call {
        id: &id,
        recipe: &served.recipe,
        route: &served.route,
        deadline: served.deadline,
        metrics: &shared.metrics,
        usage: &usage,
        start,
    };
    let mut resp = match dispatch(&shared, served, &call, req).await {
        Ok(mut resp) => {
            if let Ok(v) = header::HeaderValue::from_str(&id) {
                resp.headers_mut().insert(REQUEST_ID, v);
            }
            resp
        }
        Err(resp) => resp,
    };
    let access = Access {
        id: &id,
        component: &served.name,
        route: &served.route,
        method: &method,
        path: &path,
    };
    // A worker's server writes the access line (a cut body's line comes from the worker),
    // with the usage the worker sends along if its guest has finished.
    if shared.options.worker {
        crate::worker::send_usage(&mut resp, usage.for_access_line());
    } else {
        access.log(
            &shared.metrics,
            resp.status(),
            start,
            usage.for_access_line(),
        );
    }
    resp
}

/// Takes the slots, limits the body, and calls the component's handler.
async fn dispatch(
    shared: &Shared,
    served: &Served,
    call: &Call<'_>,
    req: Request<Incoming>,
) -> Answer {
    let slots = match crate::slots::take(&shared.instances, &served.instances) {
        Ok(slots) => slots,
        Err(full) => return Err(overloaded(shared, served, call, full)),
    };
    let req = limit_body(req, shared.options.max_body_bytes).map_err(|len| {
        call.fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the body is {len} bytes; this server accepts at most {}",
                shared.options.max_body_bytes
            ),
        )
    })?;
    let answer = match &served.handler {
        Handler::P2(p2) => crate::p2::call(&p2.engine, call, p2, req, slots).await,
        Handler::P3(handler) => crate::p3::call(call, handler, req, slots).await,
        Handler::Worker(pool) => return crate::worker::call(call, pool, req, slots).await,
    };
    if answer.is_ok() {
        let_the_guest_finish().await;
    }
    answer
}

/// Lets the guest's task run once before its response head goes out. The head leaves the
/// instance before the guest has written its body: sent at once, it goes alone, and the
/// body and its end follow in writes of their own (each a wakeup of this task and a segment
/// to the client). One turn later a small body has usually ended, and hyper sends head,
/// body and end in one write. (wrk on the 0.3 hello handler with `--reuse 128`: 1.9 writes
/// per response become 1.2; the 0.2 and fresh 0.3 paths lose wakeups the same way.)
async fn let_the_guest_finish() {
    tokio::task::yield_now().await;
}

/// 503 naming the cap that was full; the log line names the flag or key that raises it.
fn overloaded(
    shared: &Shared,
    served: &Served,
    call: &Call<'_>,
    full: Full,
) -> Response<HyperOutgoingBody> {
    shared.metrics.failure("overloaded");
    let (whose, fix) = match full {
        Full::Component(n) => (
            "this component",
            format!(
                "component instance limit ({n}) reached; raise `instances` under \
                 [component.{}.budget] or --max-component-instances",
                served.name
            ),
        ),
        Full::Host(n) => (
            "this host",
            format!("host instance limit ({n}) reached; raise --max-instances"),
        ),
    };
    tracing::warn!(request_id = %call.id, component = %served.name, "{fix}: answering 503");
    call.fail(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("too many requests in flight for {whose}; retry"),
    )
}

/// The request with its body capped at `max` bytes: refused at once (`Err(length)`) when
/// its `content-length` says more, else failed where the guest reads past the cap.
fn limit_body(req: Request<Incoming>, max: u64) -> Result<Request<HyperIncomingBody>, u64> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > max
    {
        return Err(len);
    }
    Ok(req.map(move |body| {
        http_body_util::Limited::new(body, usize::try_from(max).unwrap_or(usize::MAX))
            .map_err(move |_| wasmtime_wasi_http::Error::HttpRequestBodySize(Some(max)))
            .boxed_unsync()
    }))
}
