//! A Spin app's HTTP handler written with Spin's Rust SDK (7.x), as a Spin user writes it:
//! key-value, variables, outbound HTTP and the `spin-*` request headers.
//!
//! The last path segments pick the action (the route may put anything before them):
//! `.../kv/STORE/KEY` gets (GET) or sets to `VALUE` (`.../kv/STORE/KEY/VALUE`, PUT);
//! `.../var/NAME` reads a variable; `.../fetch/HOST:PORT` makes an outbound GET;
//! `.../headers` answers the `spin-*` request headers; `.../burn/N` spins N rounds of
//! arithmetic (for budgets); anything else says hello.

use spin_sdk::http::{EmptyBody, IntoResponse, Request, StatusCode, send};
use spin_sdk::http_service;
use spin_sdk::{key_value, variables};

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let path = req.uri().path().to_owned();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let at = |word: &str| {
        segs.iter()
            .rposition(|s| *s == word)
            .map(|i| &segs[i + 1..])
    };
    if let Some(rest) = at("kv") {
        return kv(req.method().as_str(), rest).await;
    }
    if let Some([name]) = at("var") {
        return match variables::get(name).await {
            Ok(v) => (StatusCode::OK, v),
            Err(variables::Error::InvalidName(m)) => {
                (StatusCode::BAD_REQUEST, format!("invalid-name: {m}"))
            }
            Err(variables::Error::Undefined(m)) => {
                (StatusCode::NOT_FOUND, format!("undefined: {m}"))
            }
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
        };
    }
    if let Some([authority]) = at("fetch") {
        let url = format!("http://{authority}/");
        let out = Request::get(url).body(EmptyBody::new()).unwrap();
        return match send(out).await {
            Ok(resp) => (
                StatusCode::OK,
                format!("fetched {}", resp.status().as_u16()),
            ),
            Err(e) => (StatusCode::BAD_GATEWAY, format!("denied: {e}")),
        };
    }
    if let Some([rounds]) = at("burn") {
        let rounds: u64 = rounds.parse().unwrap_or(0);
        return (StatusCode::OK, format!("burnt {}", burn(rounds)));
    }
    if segs.last() == Some(&"headers") {
        let mut lines: Vec<String> = req
            .headers()
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("spin-"))
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
            .collect();
        lines.sort();
        return (StatusCode::OK, lines.join("\n"));
    }
    (StatusCode::OK, "hello from spin-sdk".to_owned())
}

/// `rounds` of xor-shift, kept from being optimized away.
fn burn(rounds: u64) -> u64 {
    let mut x = std::hint::black_box(0x9e37_79b9_7f4a_7c15_u64);
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

async fn kv(method: &str, rest: &[&str]) -> (StatusCode, String) {
    let (store, key) = match rest {
        [store, key, ..] => (*store, *key),
        _ => return (StatusCode::BAD_REQUEST, "want kv/STORE/KEY".into()),
    };
    let store = match key_value::Store::open(store).await {
        Ok(s) => s,
        Err(key_value::Error::AccessDenied) => {
            return (StatusCode::FORBIDDEN, "access-denied".into());
        }
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
    };
    let done = match (method, rest) {
        ("PUT", [_, _, value]) => store
            .set(key, value.as_bytes())
            .await
            .map(|()| "set".into()),
        ("GET", [_, _]) => store.get(key).await.map(|v| match v {
            Some(v) => String::from_utf8_lossy(&v).into_owned(),
            None => "none".into(),
        }),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "GET kv/STORE/KEY or PUT kv/STORE/KEY/VALUE".into(),
            );
        }
    };
    match done {
        Ok(body) => (StatusCode::OK, body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
    }
}
