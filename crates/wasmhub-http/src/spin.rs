//! Spin's request shape, for apps from `spin.toml`: the `spin-*` headers Spin's HTTP trigger
//! adds to each request (full URL, path info, matched route, base path, component route, raw
//! component route, client address) and one `spin-path-match-NAME` per `:name` segment.

use std::net::SocketAddr;

use hyper::Request;
use hyper::header::{HeaderName, HeaderValue};
use wasmhub_app::{RequestShape, Route};

use crate::prepared::PreparedApp;

/// The client's address, put on each request of a Spin-shaped app by its connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub SocketAddr);

/// Whether the app's requests get Spin's headers.
pub(crate) fn shaped(app: &PreparedApp) -> bool {
    app.app.request_shape == RequestShape::Spin
}

/// Adds Spin's headers to `req`, routed to a component by `path`, if the app is Spin-shaped.
pub(crate) fn add_headers<B>(app: &PreparedApp, req: &mut Request<B>, path: &str) {
    if !shaped(app) {
        return;
    }
    let Some(route) = app
        .app
        .route(path)
        .and_then(|i| app.app.components[i].route.as_ref())
    else {
        return;
    };
    let client = req.extensions().get::<ClientAddr>().map(|c| c.0);
    for (name, value) in headers(req, route, path, client) {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            req.headers_mut().insert(n, v);
        }
    }
}

/// The headers, as Spin's HTTP trigger computes them (base path `/`).
fn headers<B>(
    req: &Request<B>,
    route: &Route,
    path: &str,
    client: Option<SocketAddr>,
) -> Vec<(String, String)> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let path_and_query = req.uri().path_and_query().map_or(path, |p| p.as_str());
    let raw = route.to_string();
    let mut out = vec![
        ("spin-path-info".into(), route.trailing(path).to_owned()),
        (
            "spin-full-url".into(),
            format!("http://{host}{path_and_query}"),
        ),
        ("spin-matched-route".into(), raw.clone()),
        ("spin-base-path".into(), "/".into()),
        ("spin-raw-component-route".into(), raw.clone()),
        (
            "spin-component-route".into(),
            raw.strip_suffix("/...").unwrap_or(&raw).to_owned(),
        ),
    ];
    if let Some(c) = client {
        out.push(("spin-client-addr".into(), c.to_string()));
    }
    for (name, value) in route.params(path).unwrap_or_default() {
        out.push((
            format!("spin-path-match-{}", name.to_ascii_lowercase()),
            value,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(route: &str, uri: &str) -> Vec<(String, String)> {
        let route = Route::try_from(route.to_owned()).unwrap();
        let req = Request::builder()
            .uri(uri)
            .header("host", "example.test:3000")
            .body(())
            .unwrap();
        let path = req.uri().path().to_owned();
        headers(&req, &route, &path, Some("127.0.0.1:4444".parse().unwrap()))
    }

    #[test]
    fn spin_headers_match_spins_trigger() {
        let h = of("/users/:id/...", "/users/42/a/b?x=1");
        let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            get("spin-full-url"),
            Some("http://example.test:3000/users/42/a/b?x=1")
        );
        assert_eq!(get("spin-path-info"), Some("/a/b"));
        assert_eq!(get("spin-matched-route"), Some("/users/:id/..."));
        assert_eq!(get("spin-raw-component-route"), Some("/users/:id/..."));
        assert_eq!(get("spin-component-route"), Some("/users/:id"));
        assert_eq!(get("spin-base-path"), Some("/"));
        assert_eq!(get("spin-client-addr"), Some("127.0.0.1:4444"));
        assert_eq!(get("spin-path-match-id"), Some("42"));
        let h = of("/hello", "/hello");
        assert!(h.contains(&("spin-path-info".into(), String::new())));
    }
}
