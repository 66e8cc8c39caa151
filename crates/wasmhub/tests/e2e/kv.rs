//! Application state through `wasi:keyvalue`: durable across restarts, the same store for
//! both drafts and every language, paging, increment's rules, `--kv memory`, one server
//! per app. Shared helpers for the other `kv_*` files live here too.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use test_programs_artifacts::{KV_COUNTER, KV_HTTP, KV_HTTP_DRAFT, KV_HTTP3, PY_KV_HTTP};

use super::harness::{Hub, Ran, g};
use super::server::{Served, request, toml_path};

/// Percent-encodes every byte but the unreserved ones, for a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `PREFIX/ACTION?store=STORE&key=KEY` with both encoded.
pub fn at(prefix: &str, action: &str, store: &str, key: &str) -> String {
    format!("{prefix}/{action}?store={}&key={}", enc(store), enc(key))
}

/// `GET path`: the status and the body as text.
pub fn get(s: &Served, path: &str) -> (u16, String) {
    let r = s.get(path);
    (r.status, r.text())
}

/// `POST path` with `body`: the status and the body as text.
pub fn post(s: &Served, path: &str, body: &[u8]) -> (u16, String) {
    let r = request(s.addr, "POST", path, body);
    (r.status, r.text())
}

/// Writes the manifest `NAME.toml` into the hub's scratch dir; returns its path.
pub fn write_manifest(hub: &Hub, name: &str, text: &str) -> String {
    let path = hub.tmp.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// One `[component.NAME]` with `source`, a `/NAME/...` route and `grant` lines.
pub fn component(name: &str, source: &'static str, grant: &str) -> String {
    format!(
        "\n[component.{name}]\nsource = {}\nroute = \"/{name}/...\"\n\n[component.{name}.grant]\n{grant}\n",
        toml_path(g(source))
    )
}

/// Every file below `dir` (none when it does not exist).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_below(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Runs `wasmhub ARGS`, killed (and reported as `None`) if it runs past `limit`.
pub fn run_bounded(hub: &Hub, args: &[&str], limit: Duration) -> Option<Ran> {
    let mut child = hub
        .cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return Some(Ran {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// An app `name` with one `kv-http` component `kv` granted `labels`.
pub fn one_store_app(hub: &Hub, name: &str, labels: &str) -> String {
    let text = format!(
        "[app]\nname = \"{name}\"\n{}",
        component("kv", KV_HTTP, &format!("keyvalue = [{labels}]"))
    );
    write_manifest(hub, name, &text)
}

#[test]
fn state_persists_across_a_restart() {
    let hub = Hub::new();
    let app = one_store_app(&hub, "persist", r#""default""#);
    let s = Served::start(&hub, &[&app]);
    for n in 1..=3 {
        assert_eq!(
            get(&s, &at("/kv", "incr", "default", "n")),
            (200, n.to_string())
        );
    }
    let set = post(&s, &at("/kv", "set", "default", "greeting"), b"hi there");
    assert_eq!(set, (200, "ok".into()));
    s.sigterm();
    drop(s);
    let s = Served::start(&hub, &[&app]);
    assert_eq!(
        get(&s, &at("/kv", "incr", "default", "n")),
        (200, "4".into())
    );
    assert_eq!(
        get(&s, &at("/kv", "get", "default", "greeting")),
        (200, "hi there".into())
    );
    assert_eq!(
        get(&s, &at("/kv", "exists", "default", "gone")),
        (200, "false".into())
    );
    assert_eq!(get(&s, &at("/kv", "delete", "default", "greeting")).0, 200);
    assert_eq!(
        get(&s, &at("/kv", "get", "default", "greeting")),
        (404, "none".into())
    );
}

#[test]
fn the_demo_counter_counts_across_routes_and_restarts() {
    let hub = Hub::new();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello-app/wasmhub.toml");
    let guests = Path::new(g(KV_COUNTER))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace("../../target/guests", &guests);
    let app = write_manifest(&hub, "hello-app", &text);
    let s = Served::start(&hub, &[&app]);
    assert_eq!(get(&s, "/count"), (200, "count is 1\n".into()));
    assert_eq!(get(&s, "/count/again"), (200, "count is 2\n".into()));
    // Another route, another component, the same store: one counter.
    assert_eq!(get(&s, "/visits"), (200, "count is 3\n".into()));
    assert_eq!(get(&s, "/hello"), (200, "Hello, wasm!".into()));
    assert_eq!(get(&s, "/cart/checkout?apple=2&pear=1").0, 200);
    s.sigterm();
    drop(s);
    let s = Served::start(&hub, &[&app]);
    assert_eq!(get(&s, "/count"), (200, "count is 4\n".into()));
}

#[test]
fn both_drafts_and_python_share_one_store() {
    let hub = Hub::shared_cache();
    let grant = r#"keyvalue = ["default"]
config = { greeting = "hello" }"#;
    let text = format!(
        "[app]\nname = \"polyglot\"\n{}{}{}",
        component("d2", KV_HTTP, grant),
        component("d1", KV_HTTP_DRAFT, grant),
        component("py", PY_KV_HTTP, grant),
    );
    let app = write_manifest(&hub, "polyglot", &text);
    let s = Served::start(&hub, &[&app]);
    assert_eq!(
        get(&s, &at("/d2", "incr", "default", "n")),
        (200, "1".into())
    );
    assert_eq!(
        get(&s, &at("/d1", "incr", "default", "n")),
        (200, "2".into())
    );
    assert_eq!(
        get(&s, &at("/py", "incr", "default", "n")),
        (200, "3".into())
    );
    assert_eq!(
        get(&s, &at("/py", "cas-incr", "default", "n")),
        (200, "4".into())
    );
    assert_eq!(
        get(&s, &at("/d2", "cas-incr", "default", "n")),
        (200, "5".into())
    );
    assert_eq!(
        post(&s, &at("/d1", "set", "default", "x"), b"from draft").0,
        200
    );
    for who in ["/d2", "/py", "/d1"] {
        assert_eq!(
            get(&s, &at(who, "get", "default", "x")),
            (200, "from draft".into())
        );
        assert_eq!(
            get(&s, &format!("{who}/config?key=greeting")),
            (200, "hello".into())
        );
        assert_eq!(
            get(&s, &format!("{who}/config?key=absent")),
            (404, "none".into())
        );
    }
    assert_eq!(
        post(&s, &at("/py", "set", "default", "y"), b"from python").0,
        200
    );
    assert_eq!(
        get(&s, &at("/d1", "get", "default", "y")),
        (200, "from python".into())
    );
    assert_eq!(get(&s, &at("/py", "delete", "default", "y")).0, 200);
    assert_eq!(
        get(&s, &at("/d2", "exists", "default", "y")),
        (200, "false".into())
    );
}

#[test]
fn increment_starts_at_zero_and_refuses_what_is_not_a_counter() {
    let hub = Hub::new();
    let app = one_store_app(&hub, "incr", r#""default""#);
    let s = Served::start(&hub, &[&app]);
    assert_eq!(get(&s, "/kv/incr?key=fresh&by=5"), (200, "5".into()));
    assert_eq!(get(&s, "/kv/incr?key=fresh&by=-7"), (200, "-2".into()));
    // Counters are 8-byte little-endian i64s.
    let (status, raw) = (
        s.get("/kv/get?key=fresh").status,
        s.get("/kv/get?key=fresh").body,
    );
    assert_eq!((status, raw), (200, (-2i64).to_le_bytes().to_vec()));

    assert_eq!(post(&s, "/kv/set?key=text", b"abc").0, 200);
    let (status, body) = get(&s, "/kv/incr?key=text");
    assert_eq!(status, 500, "{body}");
    assert!(body.starts_with("other: "), "{body}");
    assert_eq!(
        get(&s, "/kv/get?key=text"),
        (200, "abc".into()),
        "nothing written"
    );

    assert_eq!(post(&s, "/kv/set?key=max", &i64::MAX.to_le_bytes()).0, 200);
    let (status, body) = get(&s, "/kv/incr?key=max&by=1");
    assert_eq!(status, 500, "overflow: {body}");
    assert!(body.starts_with("other: "), "{body}");
    assert_eq!(
        s.get("/kv/get?key=max").body,
        i64::MAX.to_le_bytes().to_vec()
    );
}

/// Every key of `store` through `prefix`'s `list` pages: the keys and the number of pages.
pub fn list_all(s: &Served, prefix: &str, store: &str) -> (Vec<String>, usize) {
    let (mut keys, mut pages, mut cursor) = (Vec::new(), 0, String::new());
    loop {
        let mut path = format!("{prefix}/list?store={}&page=one", enc(store));
        if !cursor.is_empty() {
            path.push_str(&format!("&cursor={}", enc(&cursor)));
        }
        let (status, text) = get(s, &path);
        assert_eq!(status, 200, "{text}");
        pages += 1;
        let (page, next) = text.rsplit_once("cursor=").unwrap();
        keys.extend(page.lines().map(str::to_owned));
        if next.is_empty() {
            return (keys, pages);
        }
        cursor = next.to_owned();
        assert!(pages < 100, "the cursor never ends");
    }
}

/// Asserts that `keys` holds `n` keys, none twice.
fn all_distinct(mut keys: Vec<String>, n: usize) {
    assert_eq!(keys.len(), n);
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "a key listed twice");
}

#[test]
fn list_keys_pages_with_a_cursor_in_both_drafts() {
    let hub = Hub::new();
    let text = format!(
        "[app]\nname = \"pages\"\n{}{}",
        component("d2", KV_HTTP, r#"keyvalue = ["default"]"#),
        component("d1", KV_HTTP_DRAFT, r#"keyvalue = ["default"]"#),
    );
    let s = Served::start(&hub, &[&write_manifest(&hub, "pages", &text)]);
    assert_eq!(list_all(&s, "/d2", "default"), (vec![], 1), "empty store");
    for batch in 0..5 {
        let path = format!("/d2/batch-set?n=500&size=4&prefix=b{batch}-");
        assert_eq!(get(&s, &path), (200, "ok".into()));
    }
    let (keys, pages) = list_all(&s, "/d2", "default");
    assert_eq!(pages, 3, "1000 keys a page");
    all_distinct(keys, 2500);
    // The draft's numeric cursors, one request a page and all pages in one instance.
    let (keys, pages) = list_all(&s, "/d1", "default");
    assert_eq!(pages, 3, "1000 keys a page");
    all_distinct(keys, 2500);
    let (status, text) = get(&s, "/d1/list?store=default");
    assert_eq!(status, 200, "{text}");
    let (keys, pages) = text.rsplit_once("pages=").unwrap();
    assert_eq!(pages, "3", "1000 keys a page");
    all_distinct(keys.lines().map(str::to_owned).collect(), 2500);
    // A cursor this host never gave is an error, not a fresh start.
    let (status, text) = get(&s, "/d2/list?store=default&cursor=bogus");
    assert_eq!(status, 500, "{text}");
}

#[test]
fn kv_memory_forgets_at_exit() {
    let hub = Hub::new();
    let args = ["--kv", "memory", "--keyvalue", "default", g(KV_HTTP)];
    for _ in 0..2 {
        let s = Served::start(&hub, &args);
        assert_eq!(get(&s, "/incr?key=n"), (200, "1".into()));
        assert_eq!(get(&s, "/incr?key=n"), (200, "2".into()));
    }
    assert_eq!(files_below(&hub.data_dir()), Vec::<PathBuf>::new());
}

#[test]
fn a_second_server_of_the_same_app_fails_clearly() {
    let hub = Hub::new();
    let app = one_store_app(&hub, "twice", r#""default""#);
    let first = Served::start(&hub, &[&app]);
    assert_eq!(get(&first, "/kv/incr?key=n"), (200, "1".into()));
    let second = run_bounded(
        &hub,
        &["serve", "--addr", "127.0.0.1:0", &app],
        Duration::from_secs(60),
    )
    .expect("the second serve exits instead of serving");
    assert_eq!(second.code, 2, "{}", second.stderr);
    let clear = "the state of app \"twice\"";
    assert!(
        second.stderr.contains(clear),
        "names the app: {}",
        second.stderr
    );
    assert!(
        second
            .stderr
            .contains("is in use by another wasmhub process"),
        "{}",
        second.stderr
    );
    // The first one is unharmed.
    assert_eq!(get(&first, "/kv/incr?key=n"), (200, "2".into()));
}

#[test]
fn a_wasi3_handler_keeps_state_and_reads_config() {
    let hub = Hub::new();
    let args = [
        "--wasi",
        "0.3",
        "--keyvalue",
        "default",
        "--config",
        "greeting=hey",
        g(KV_HTTP3),
    ];
    for expected in [["hey 1", "hey 2"], ["hey 3", "hey 4"]] {
        let s = Served::start(&hub, &args);
        for e in expected {
            assert_eq!(get(&s, "/"), (200, e.into()));
        }
    }
    // Without the grant its open is denied, and the component still answers.
    let s = Served::start(&hub, &["--wasi", "0.3", g(KV_HTTP3)]);
    assert_eq!(get(&s, "/"), (200, "open: Error::AccessDenied".into()));
}
