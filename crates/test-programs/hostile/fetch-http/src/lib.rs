//! `fetch-http`: a handler that makes the outgoing GET named by `?url=` and reports what happened.
//!
//! It answers `upstream status N` when the request went through, and 502 with the
//! `wasi:http` error code when the host refused or the request failed.

use guest_support::answer;
use wasip2::http::types::{Fields, IncomingRequest, OutgoingRequest, ResponseOutparam, Scheme};

struct Fetch;

impl wasip2::exports::http::incoming_handler::Guest for Fetch {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let query = path.split_once('?').map_or("", |(_, q)| q);
        let url = query.strip_prefix("url=").unwrap_or("");
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        let (authority, path) = rest
            .find('/')
            .map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
        let req = OutgoingRequest::new(Fields::new());
        let scheme = if scheme == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        };
        req.set_scheme(Some(&scheme)).unwrap();
        req.set_authority(Some(authority)).unwrap();
        req.set_path_with_query(Some(path)).unwrap();
        match wasip2::http::outgoing_handler::handle(req, None) {
            Ok(future) => {
                future.subscribe().block();
                match future.get().unwrap().unwrap() {
                    Ok(resp) => answer(out, 200, &format!("upstream status {}", resp.status())),
                    Err(e) => answer(out, 502, &format!("outbound failed: {e:?}")),
                }
            }
            Err(e) => answer(out, 502, &format!("outbound refused: {e:?}")),
        }
    }
}

wasip2::http::proxy::export!(Fetch);
