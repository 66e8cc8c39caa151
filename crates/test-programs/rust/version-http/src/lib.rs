//! `version-http`: answers with its `VERSION` environment variable (`none` when not
//! granted), so two grants of one build answer differently (the reload tests). A path
//! ending in `slow` answers `start VERSION` at once, then waits for the request body to
//! end (the client decides how long the request lives), then ends with `end VERSION`,
//! reading the variable again. A path ending in `wait` sleeps 20 ms (or `?ms=N`) before
//! answering, like a handler waiting on a database (the cluster capacity bench).

use guest_support::answer;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

struct Version;

fn version() -> String {
    std::env::var("VERSION").unwrap_or_else(|_| "none".into())
}

impl wasip2::exports::http::incoming_handler::Guest for Version {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let (path, query) = path.split_once('?').unwrap_or((path.as_str(), ""));
        if path.ends_with("wait") {
            let ms: u64 = query
                .strip_prefix("ms=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(20);
            wasip2::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
            answer(out, 200, &version());
            return;
        }
        if !path.ends_with("slow") {
            answer(out, 200, &version());
            return;
        }
        let response = OutgoingResponse::new(Fields::new());
        let body = response.body().unwrap();
        ResponseOutparam::set(out, Ok(response));
        let output = body.write().unwrap();
        output
            .blocking_write_and_flush(format!("start {}\n", version()).as_bytes())
            .unwrap();
        let incoming = request.consume().unwrap();
        let input = incoming.stream().unwrap();
        while !matches!(input.blocking_read(4096), Err(StreamError::Closed)) {}
        output
            .blocking_write_and_flush(format!("end {}\n", version()).as_bytes())
            .unwrap();
        drop(output);
        OutgoingBody::finish(body, None).unwrap();
    }
}

wasip2::http::proxy::export!(Version);
