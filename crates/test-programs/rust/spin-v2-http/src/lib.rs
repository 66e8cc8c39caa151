//! `spin-v2-http`: a WASI 0.2 handler importing Spin's older host interfaces,
//! `fermyon:spin/key-value@2.0.0` and `fermyon:spin/variables@2.0.0` (what components built
//! with spin-sdk 2 to 4 import), through wit-bindgen over the WIT in `wit/deps/spin-2.0.0`.
//!
//! The last path segments pick the action (the route may put anything before them):
//! `GET .../kv/STORE/KEY` gets (`none` when absent), `PUT .../kv/STORE/KEY/VALUE` sets,
//! `DELETE .../kv/STORE/KEY` deletes, `GET .../exists/STORE/KEY` answers `true`/`false`,
//! `GET .../keys/STORE` lists the keys (sorted, one a line), `GET .../var/NAME` reads a
//! variable. Errors answer with the variant's name: 403 `access-denied`, 404
//! `no-such-store`, 400 `invalid-name: M`, 404 `undefined: M`, 500 for the others.

wit_bindgen::generate!({
    inline: "
        package wasmhub:spin-v2-http;
        world spin-v2-http {
            import fermyon:spin/key-value@2.0.0;
            import fermyon:spin/variables@2.0.0;
        }
    ",
    path: ["../../../../wit/deps/spin-2.0.0"],
    world: "wasmhub:spin-v2-http/spin-v2-http",
    generate_all,
});

use fermyon::spin::key_value::{Error, Store};
use fermyon::spin::variables;
use wasip2::http::types::{IncomingRequest, Method, ResponseOutparam};

struct SpinV2;

impl wasip2::exports::http::incoming_handler::Guest for SpinV2 {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let target = guest_support::request::Target::of(&request);
        let segs: Vec<&str> = target.path.split('/').filter(|s| !s.is_empty()).collect();
        let after = |word: &str| {
            segs.iter()
                .rposition(|s| *s == word)
                .map(|i| segs[i + 1..].to_vec())
        };
        let (status, body) = match (request.method(), &segs) {
            (_, _) if after("var").is_some_and(|r| r.len() == 1) => var(after("var").unwrap()[0]),
            (Method::Get, _) if after("keys").is_some_and(|r| r.len() == 1) => {
                kv(after("keys").unwrap()[0], |s| {
                    let mut keys = s.get_keys()?;
                    keys.sort();
                    Ok(keys.join("\n"))
                })
            }
            (Method::Get, _) if after("exists").is_some_and(|r| r.len() == 2) => {
                let r = after("exists").unwrap();
                kv(r[0], |s| s.exists(r[1]).map(|b| b.to_string()))
            }
            (method, _) if after("kv").is_some() => match (method, after("kv").unwrap().as_slice())
            {
                (Method::Get, [store, key]) => kv(store, |s| {
                    Ok(s.get(key)?.map_or_else(
                        || "none".to_owned(),
                        |v| String::from_utf8_lossy(&v).into_owned(),
                    ))
                }),
                (Method::Put, [store, key, value]) => kv(store, |s| {
                    s.set(key, value.as_bytes()).map(|()| "set".into())
                }),
                (Method::Delete, [store, key]) => {
                    kv(store, |s| s.delete(key).map(|()| "deleted".into()))
                }
                _ => (
                    400,
                    "GET|DELETE kv/STORE/KEY or PUT kv/STORE/KEY/VALUE".into(),
                ),
            },
            _ => (200, "hello from fermyon:spin@2.0.0".into()),
        };
        guest_support::answer(out, status, &body);
    }
}

/// Opens `label` and runs `f` on it; an error answers with its variant's name.
fn kv(label: &str, f: impl FnOnce(&Store) -> Result<String, Error>) -> (u16, String) {
    match Store::open(label).and_then(|s| f(&s)) {
        Ok(body) => (200, body),
        Err(Error::AccessDenied) => (403, "access-denied".into()),
        Err(Error::NoSuchStore) => (404, "no-such-store".into()),
        Err(Error::StoreTableFull) => (503, "store-table-full".into()),
        Err(Error::Other(m)) => (500, format!("other: {m}")),
    }
}

/// Reads variable `name`; an error answers with its variant's name.
fn var(name: &str) -> (u16, String) {
    match variables::get(name) {
        Ok(v) => (200, v),
        Err(variables::Error::InvalidName(m)) => (400, format!("invalid-name: {m}")),
        Err(variables::Error::Undefined(m)) => (404, format!("undefined: {m}")),
        Err(variables::Error::Provider(m)) => (500, format!("provider: {m}")),
        Err(variables::Error::Other(m)) => (500, format!("other: {m}")),
    }
}

wasip2::http::proxy::export!(SpinV2);
