//! One request from the server to its tenant's worker, and the response back; the slots it
//! took, and the worker, are held until the response body ends.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::{Request, StatusCode, header};
use wasmtime_wasi_http::p2::body::HyperIncomingBody;

use super::Pool;
use crate::body::Held;
use crate::call::{Answer, Call};
use crate::slots::Slots;

/// Past the deadline the worker answers 504 itself; this is how much longer the server
/// waits for that answer before giving its own.
const GRACE: Duration = Duration::from_secs(5);

/// Forwards one request to `pool`'s worker; 502 with the request id if the worker fails it.
pub(crate) async fn call(
    call: &Call<'_>,
    pool: &Pool,
    mut req: Request<HyperIncomingBody>,
    slots: Slots,
) -> Answer {
    // Only the server asks a worker for its counts.
    req.headers_mut().remove(super::report::REPORT_HEADER);
    if let Ok(id) = header::HeaderValue::from_str(call.id) {
        req.headers_mut().insert(super::ID_HEADER, id);
    }
    let wait = call.deadline.saturating_sub(call.start.elapsed()) + GRACE;
    match tokio::time::timeout(wait, pool.send(req)).await {
        Ok(Ok((mut resp, in_flight))) => {
            if let Some(usage) = super::usage::take(&mut resp) {
                call.usage.finish(usage, call.id, &call.recipe.name);
            }
            Ok(resp.map(|body| {
                let body =
                    body.map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string())));
                Held::new(body, (slots, in_flight)).boxed_unsync()
            }))
        }
        Ok(Err(e)) => {
            call.metrics.failure("worker");
            tracing::error!(
                request_id = %call.id,
                component = %call.recipe.name,
                tenant = pool.tenant(),
                error = ?anyhow::Error::from(e),
                "the request failed in its worker process"
            );
            Err(call.fail(
                StatusCode::BAD_GATEWAY,
                "the component's worker process failed",
            ))
        }
        Err(_) => Err(call.timed_out()),
    }
}
