//! `kv-http-draft`: the older drafts over HTTP, `wasi:keyvalue@0.2.0-draft` (numeric
//! cursor, unsigned delta, no CAS) and `wasi:config@0.2.0-draft`.
//!
//! The action is the path's last segment, its arguments the query (percent-decoded):
//! `open` (label = body), `incr?store=S&key=K&by=N`, `get`, `set` (value = body), `delete`,
//! `exists`, `list?store=S` (every page in one request: a key per line, then `pages=N`),
//! `list?store=S&page=one` or `&cursor=N` (one page: a key per line, then `cursor=N` or
//! `cursor=`),
//! `batch-set?n=N&size=B&prefix=P`, `config?key=K`, `config-all`. A store error answers
//! 403 `access-denied`, 404 `no-such-store` or 500 `other: MESSAGE`.

wit_bindgen::generate!({
    inline: "
        package wasmhub:kv-http-draft;
        world kv-http-draft {
            import wasi:keyvalue/store@0.2.0-draft;
            import wasi:keyvalue/atomics@0.2.0-draft;
            import wasi:keyvalue/batch@0.2.0-draft;
            import wasi:config/store@0.2.0-draft;
        }
    ",
    path: ["../../../../wit/deps/keyvalue-0.2.0-draft", "../../../../wit/deps/config-0.2.0-draft"],
    world: "wasmhub:kv-http-draft/kv-http-draft",
    generate_all,
});

use guest_support::request::{Target, body};
use guest_support::{answer, respond};
use wasi::config::store as config;
use wasi::keyvalue::store::{self, Error};
use wasi::keyvalue::{atomics, batch};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct KvHttpDraft;

impl wasip2::exports::http::incoming_handler::Guest for KvHttpDraft {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let target = Target::of(&request);
        let body = body(request);
        match route(&target, body) {
            Ok((status, bytes)) => respond(out, status, &[], &bytes),
            Err(Error::AccessDenied) => answer(out, 403, "access-denied"),
            Err(Error::NoSuchStore) => answer(out, 404, "no-such-store"),
            Err(Error::Other(m)) => answer(out, 500, &format!("other: {m}")),
        }
    }
}

wasip2::http::proxy::export!(KvHttpDraft);

fn ok(text: impl Into<Vec<u8>>) -> Result<(u16, Vec<u8>), Error> {
    Ok((200, text.into()))
}

fn route(t: &Target, body: Vec<u8>) -> Result<(u16, Vec<u8>), Error> {
    let open = || store::open(t.param_or("store", "default"));
    let key = || t.param_or("key", "key").to_owned();
    match t.action() {
        "open" => store::open(&String::from_utf8_lossy(&body)).and_then(|_| ok("opened")),
        "incr" => {
            let n = atomics::increment(&open()?, &key(), t.number("by", 1u64))?;
            ok(n.to_string())
        }
        "get" => match open()?.get(&key())? {
            Some(v) => ok(v),
            None => Ok((404, b"none".to_vec())),
        },
        "set" => open()?.set(&key(), &body).and_then(|()| ok("ok")),
        "delete" => open()?.delete(&key()).and_then(|()| ok("ok")),
        "exists" => ok(open()?.exists(&key())?.to_string()),
        "list" if t.param("cursor").is_some() || t.param("page").is_some() => {
            // One page, from the numeric cursor of an earlier request (if any).
            let cursor = t.param("cursor").and_then(|c| c.parse::<u64>().ok());
            let page = open()?.list_keys(cursor)?;
            let mut text: String = page.keys.iter().map(|k| format!("{k}\n")).collect();
            let next = page.cursor.map(|c| c.to_string()).unwrap_or_default();
            text.push_str(&format!("cursor={next}"));
            ok(text)
        }
        "list" => {
            // Every page in this one instance.
            let bucket = open()?;
            let (mut text, mut pages, mut cursor) = (String::new(), 0, None);
            loop {
                let page = bucket.list_keys(cursor)?;
                pages += 1;
                for k in page.keys {
                    text.push_str(&k);
                    text.push('\n');
                }
                cursor = page.cursor;
                if cursor.is_none() {
                    break;
                }
            }
            text.push_str(&format!("pages={pages}"));
            ok(text)
        }
        "batch-set" => {
            let (n, size) = (t.number("n", 1usize), t.number("size", 1usize));
            let prefix = t.param_or("prefix", "k");
            let pairs: Vec<(String, Vec<u8>)> = (0..n)
                .map(|i| (format!("{prefix}{i}"), vec![b'v'; size]))
                .collect();
            batch::set_many(&open()?, &pairs).and_then(|()| ok("ok"))
        }
        "config" => Ok(match config::get(t.param_or("key", "")) {
            Ok(Some(v)) => (200, v.into_bytes()),
            Ok(None) => (404, b"none".to_vec()),
            Err(e) => (500, format!("{e:?}").into_bytes()),
        }),
        "config-all" => Ok(match config::get_all() {
            Ok(mut all) => {
                all.sort();
                let lines: Vec<String> = all.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
                (200, lines.concat().into_bytes())
            }
            Err(e) => (500, format!("{e:?}").into_bytes()),
        }),
        other => Ok((400, format!("unknown action {other:?}").into_bytes())),
    }
}
