//! `relay-http`: `GET ...?n=N&url=http://HOST:PORT/PATH` makes N outgoing GETs one after another
//! and answers the last body (the network-hop side of the graph and chain benchmarks); `url`
//! comes last and may carry its own query, so relays chain.

use guest_support::answer;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, IncomingRequest, OutgoingRequest, ResponseOutparam, Scheme};

struct Relay;

/// One GET of `authority` + `path`; the body as text.
fn get(authority: &str, path: &str) -> Result<String, String> {
    let req = OutgoingRequest::new(Fields::new());
    req.set_scheme(Some(&Scheme::Http)).unwrap();
    req.set_authority(Some(authority)).unwrap();
    req.set_path_with_query(Some(path)).unwrap();
    let pending = outgoing_handler::handle(req, None).map_err(|e| format!("refused: {e:?}"))?;
    pending.subscribe().block();
    let resp = pending
        .get()
        .ok_or("no response")?
        .map_err(|()| "response taken twice")?
        .map_err(|e| format!("failed: {e:?}"))?;
    let body = resp.consume().map_err(|()| "no body")?;
    let stream = body.stream().map_err(|()| "no body stream")?;
    let mut bytes = Vec::new();
    while let Ok(chunk) = stream.blocking_read(64 * 1024) {
        bytes.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

impl wasip2::exports::http::incoming_handler::Guest for Relay {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let target = request.path_with_query().unwrap_or_default();
        let query = target.split_once('?').map_or("", |(_, q)| q);
        let mut n = 1u32;
        let mut url = "";
        // `url` comes last and takes the rest of the query (it may carry a query of its own).
        let mut rest = query;
        while !rest.is_empty() {
            if let Some(u) = rest.strip_prefix("url=") {
                url = u;
                break;
            }
            let (kv, more) = rest.split_once('&').unwrap_or((rest, ""));
            if let Some(("n", v)) = kv.split_once('=') {
                n = v.parse().unwrap_or(1);
            }
            rest = more;
        }
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let (authority, path) = rest
            .find('/')
            .map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
        let mut last = Ok(String::new());
        for _ in 0..n {
            last = get(authority, path);
            if last.is_err() {
                break;
            }
        }
        match last {
            Ok(body) => answer(out, 200, &body),
            Err(e) => answer(out, 502, &e),
        }
    }
}

wasip2::http::proxy::export!(Relay);
