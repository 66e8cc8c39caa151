//! `kv-http`: every `wasi:keyvalue@0.2.0-draft2` and `wasi:config@0.2.0-rc.1` call over HTTP.
//!
//! The action is the path's last segment, its arguments the query (percent-decoded):
//! `open` (label = body), `incr?store=S&key=K&by=N`, `get`, `set` (value = body), `delete`,
//! `exists`, `list?store=S&cursor=C` (one page: a key per line, then `cursor=C` or
//! `cursor=`), `cas-incr` (answers the new value, `x-attempts` the swaps tried), `batch-set?
//! n=N&size=B&prefix=P`, `batch-get?keys=a,b`, `batch-delete?keys=a,b`, `exists-n?n=N` (N
//! calls), `config?key=K`, `config-all`. A store error answers 403 `access-denied`, 404
//! `no-such-store` or 500 `other: MESSAGE`.

wit_bindgen::generate!({
    inline: "
        package wasmhub:kv-http;
        world kv-http {
            import wasi:keyvalue/store@0.2.0-draft2;
            import wasi:keyvalue/atomics@0.2.0-draft2;
            import wasi:keyvalue/batch@0.2.0-draft2;
            import wasi:config/store@0.2.0-rc.1;
        }
    ",
    path: ["../../../../wit/deps/keyvalue-0.2.0-draft2", "../../../../wit/deps/config-0.2.0-rc.1"],
    world: "wasmhub:kv-http/kv-http",
    generate_all,
});

use guest_support::request::{Target, body};
use guest_support::{answer, respond};
use wasi::config::store as config;
use wasi::keyvalue::atomics::{self, Cas, CasError};
use wasi::keyvalue::batch;
use wasi::keyvalue::store::{self, Bucket, Error};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

/// A finished answer: status, body and extra headers.
type Answer = (u16, Vec<u8>, Vec<(&'static str, String)>);

struct KvHttp;

impl wasip2::exports::http::incoming_handler::Guest for KvHttp {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let target = Target::of(&request);
        let body = body(request);
        match route(&target, body) {
            Ok((status, bytes, headers)) => {
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                respond(out, status, &headers, &bytes);
            }
            Err(e) => {
                let (status, text) = denial(&e);
                answer(out, status, &text);
            }
        }
    }
}

wasip2::http::proxy::export!(KvHttp);

/// The status and body a store error answers.
fn denial(e: &Error) -> (u16, String) {
    match e {
        Error::AccessDenied => (403, "access-denied".into()),
        Error::NoSuchStore => (404, "no-such-store".into()),
        Error::Other(m) => (500, format!("other: {m}")),
    }
}

fn ok(text: impl Into<Vec<u8>>) -> Result<Answer, Error> {
    Ok((200, text.into(), Vec::new()))
}

fn route(t: &Target, body: Vec<u8>) -> Result<Answer, Error> {
    let open = || store::open(t.param_or("store", "default"));
    let key = || t.param_or("key", "key").to_owned();
    match t.action() {
        "open" => store::open(&String::from_utf8_lossy(&body)).and_then(|_| ok("opened")),
        "incr" => {
            let n = atomics::increment(&open()?, &key(), t.number("by", 1i64))?;
            ok(n.to_string())
        }
        "get" => match open()?.get(&key())? {
            Some(v) => ok(v),
            None => Ok((404, b"none".to_vec(), Vec::new())),
        },
        "set" => open()?.set(&key(), &body).and_then(|()| ok("ok")),
        "delete" => open()?.delete(&key()).and_then(|()| ok("ok")),
        "exists" => ok(open()?.exists(&key())?.to_string()),
        "list" => {
            let page = open()?.list_keys(t.param("cursor"))?;
            let mut text = String::new();
            for k in page.keys {
                text.push_str(&k);
                text.push('\n');
            }
            text.push_str(&format!("cursor={}", page.cursor.unwrap_or_default()));
            ok(text)
        }
        "cas-incr" => cas_increment(&open()?, &key()),
        "batch-set" => {
            let (n, size) = (t.number("n", 1usize), t.number("size", 1usize));
            let prefix = t.param_or("prefix", "k");
            let pairs: Vec<(String, Vec<u8>)> = (0..n)
                .map(|i| (format!("{prefix}{i}"), vec![b'v'; size]))
                .collect();
            batch::set_many(&open()?, &pairs).and_then(|()| ok("ok"))
        }
        "batch-get" => {
            let keys = list_param(t, "keys");
            let mut text = String::new();
            for (k, found) in keys.iter().zip(batch::get_many(&open()?, &keys)?) {
                let v = found.map(|(_, v)| String::from_utf8_lossy(&v).into_owned());
                text.push_str(&format!("{k}={}\n", v.as_deref().unwrap_or("<none>")));
            }
            ok(text)
        }
        "batch-delete" => {
            batch::delete_many(&open()?, &list_param(t, "keys")).and_then(|()| ok("ok"))
        }
        "exists-n" => {
            let bucket = open()?;
            for _ in 0..t.number("n", 1u32) {
                bucket.exists("probe")?;
            }
            ok("ok")
        }
        "config" => Ok(match config::get(t.param_or("key", "")) {
            Ok(Some(v)) => (200, v.into_bytes(), Vec::new()),
            Ok(None) => (404, b"none".to_vec(), Vec::new()),
            Err(e) => (500, config_error(e).into_bytes(), Vec::new()),
        }),
        "config-all" => Ok(match config::get_all() {
            Ok(mut all) => {
                all.sort();
                let lines: Vec<String> = all.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
                (200, lines.concat().into_bytes(), Vec::new())
            }
            Err(e) => (500, config_error(e).into_bytes(), Vec::new()),
        }),
        other => Ok((
            400,
            format!("unknown action {other:?}").into_bytes(),
            Vec::new(),
        )),
    }
}

/// `keys=a,b,c` as a list.
fn list_param(t: &Target, name: &str) -> Vec<String> {
    t.param_or(name, "")
        .split(',')
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

fn config_error(e: config::Error) -> String {
    match e {
        config::Error::Upstream(m) => format!("upstream: {m}"),
        config::Error::Io(m) => format!("io: {m}"),
    }
}

/// Reads `key` as a little-endian i64 through a CAS handle, swaps in one more, and retries
/// from the fresh handle a failed swap returns; answers the value written and, in
/// `x-attempts`, how many swaps it took.
fn cas_increment(bucket: &Bucket, key: &str) -> Result<Answer, Error> {
    let mut cas = Cas::new(bucket, key)?;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let current = match cas.current()? {
            None => 0,
            Some(bytes) => match <[u8; 8]>::try_from(bytes.as_slice()) {
                Ok(b) => i64::from_le_bytes(b),
                Err(_) => {
                    let text = format!("the value of {key:?} is not an 8-byte counter");
                    return Ok((409, text.into_bytes(), Vec::new()));
                }
            },
        };
        let next = current + 1;
        match atomics::swap(cas, &next.to_le_bytes()) {
            Ok(()) => {
                return Ok((
                    200,
                    next.to_string().into_bytes(),
                    vec![("x-attempts", attempts.to_string())],
                ));
            }
            Err(CasError::CasFailed(fresh)) => cas = fresh,
            Err(CasError::StoreError(e)) => return Err(e),
        }
    }
}
