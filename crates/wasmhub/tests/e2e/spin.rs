//! Spin apps unchanged: a `spin.toml` and a component built with Spin's Rust SDK (7.x, from
//! crates.io) served by `wasmhub serve spin.toml`: routes and wildcards, key-value with
//! `access-denied` for an ungranted store, variables with defaults and `invalid-name`,
//! outbound HTTP only to `allowed_outbound_hosts` (with `{{ variable }}` templates), and
//! each key not supported yet refused by `check` with its golden error.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use test_programs_artifacts::SPIN_SDK_HTTP;

use super::harness::{Hub, g};
use super::server::{Served, request};

/// A Spin app directory in the hub's scratch space: `spin.toml` = `manifest` and the
/// Spin-SDK component as `web.wasm`, as `spin build` leaves it. Returns the manifest path.
pub fn spin_app(hub: &Hub, manifest: &str) -> String {
    let dir = hub.tmp.path().join("app");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(g(SPIN_SDK_HTTP), dir.join("web.wasm")).unwrap();
    let path = dir.join("spin.toml");
    std::fs::write(&path, manifest).unwrap();
    path.display().to_string()
}

/// An HTTP server on 127.0.0.1 that answers every request `204`, until the test ends.
fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut s in listener.incoming().map_while(Result::ok) {
            let mut buf = [0; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    addr
}

/// Another free 127.0.0.1 port with a server behind it, never granted.
fn other_upstream() -> String {
    upstream()
}

const APP: &str = r#"spin_manifest_version = 2

[application]
name = "spin-e2e"
version = "0.1.0"

[variables]
who = { default = "spin" }
api_host = { required = true }

[[trigger.http]]
route = "/hello"
component = "hello"

[[trigger.http]]
route = "/web/..."
component = "web"

[[trigger.http]]
route = "/users/:id"
component = "users"

[component.hello]
source = "web.wasm"

[component.web]
source = "web.wasm"
key_value_stores = ["default"]
allowed_outbound_hosts = ["http://{{ api_host }}"]
variables = { greeting = "hi {{ who }}" }
[component.web.build]
command = "cargo build --target wasm32-wasip2 --release"

[component.users]
source = "web.wasm"
"#;

fn text(s: &Served, method: &str, path: &str) -> (u16, String) {
    let r = request(s.addr, method, path, &[]);
    (r.status, r.text())
}

fn serve(hub: &Hub, manifest: &str, api_host: &str) -> Served {
    let path = spin_app(hub, manifest);
    Served::start_env(hub, &[&path], &[("SPIN_VARIABLE_API_HOST", api_host)])
}

#[test]
fn spin_routes_exact_wildcard_and_parameters() {
    let hub = Hub::new();
    let s = serve(&hub, APP, "127.0.0.1:9");
    assert_eq!(
        text(&s, "GET", "/hello"),
        (200, "hello from spin-sdk".into())
    );
    assert_eq!(text(&s, "GET", "/web"), (200, "hello from spin-sdk".into()));
    assert_eq!(
        text(&s, "GET", "/web/a/b/c"),
        (200, "hello from spin-sdk".into())
    );
    assert_eq!(
        text(&s, "GET", "/users/7"),
        (200, "hello from spin-sdk".into())
    );
    assert_eq!(
        text(&s, "GET", "/hello/x").0,
        404,
        "an exact route is exact"
    );
    assert_eq!(text(&s, "GET", "/users/7/8").0, 404, "`:id` is one segment");
    assert_eq!(text(&s, "GET", "/users").0, 404);
}

#[test]
fn spin_key_value_on_granted_stores_access_denied_on_others() {
    let hub = Hub::new();
    let s = serve(&hub, APP, "127.0.0.1:9");
    assert_eq!(text(&s, "GET", "/web/kv/default/k"), (200, "none".into()));
    assert_eq!(text(&s, "PUT", "/web/kv/default/k/v1"), (200, "set".into()));
    assert_eq!(text(&s, "GET", "/web/kv/default/k"), (200, "v1".into()));
    assert_eq!(
        text(&s, "GET", "/web/kv/sessions/k"),
        (403, "access-denied".into()),
        "a store spin.toml does not grant"
    );
    assert_eq!(
        text(&s, "GET", "/hello/kv/default/k").0,
        404,
        "(exact route: a path below it is not served)"
    );
}

#[test]
fn spin_variables_defaults_invalid_name_and_undefined() {
    let hub = Hub::new();
    let s = serve(&hub, APP, "127.0.0.1:9");
    assert_eq!(
        text(&s, "GET", "/web/var/greeting"),
        (200, "hi spin".into())
    );
    let (status, body) = text(&s, "GET", "/web/var/Greeting");
    assert_eq!(status, 400, "{body}");
    assert!(body.starts_with("invalid-name: \"Greeting\""), "{body}");
    let (status, body) = text(&s, "GET", "/web/var/nope");
    assert_eq!(status, 404, "{body}");
    assert!(body.starts_with("undefined: "), "{body}");
    assert!(
        text(&s, "GET", "/web/var/who").1.starts_with("undefined"),
        "application variables are not the component's"
    );
}

#[test]
fn spin_outbound_only_to_allowed_hosts_with_templates() {
    let hub = Hub::new();
    let allowed = upstream();
    let denied = other_upstream();
    let s = serve(&hub, APP, &allowed);
    assert_eq!(
        text(&s, "GET", &format!("/web/fetch/{allowed}")),
        (200, "fetched 204".into()),
        "the host `{{{{ api_host }}}}` names"
    );
    let (status, body) = text(&s, "GET", &format!("/web/fetch/{denied}"));
    assert_eq!(status, 502, "{body}");
    assert!(body.starts_with("denied: "), "{body}");
    // The denial is reported in the log (written after the response: waited for), with
    // the spin.toml key that would allow it.
    let log = s.wait_log(&denied);
    let want = format!(
        "to allow it, add allowed_outbound_hosts = [\"http://{denied}\"] under [component.web] ("
    );
    assert!(log.contains(&want), "want {want:?} in:\n{log}");
}

/// Every `crates/wasmhub-spin/tests/golden/*.toml` fails `wasmhub check` with its `.err`.
#[test]
fn spin_check_refuses_each_unsupported_key_with_its_golden_error() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wasmhub-spin/tests/golden");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 10);
    for case in cases {
        let hub = Hub::new();
        let path = spin_app(&hub, &std::fs::read_to_string(&case).unwrap());
        let dir = Path::new(&path).parent().unwrap().display().to_string();
        let r = hub.run(&["check", &path]);
        let want = std::fs::read_to_string(case.with_extension("err"))
            .unwrap()
            .trim_end()
            .replace("$DIR", &dir);
        assert_ne!(r.code, 0, "{}", case.display());
        assert!(
            r.stderr.contains(&want),
            "{}: want {want:?} in:\n{}",
            case.display(),
            r.stderr
        );
    }
}

#[test]
fn spin_request_headers_and_path_matches() {
    let hub = Hub::new();
    let s = serve(&hub, APP, "127.0.0.1:9");
    let (status, body) = text(&s, "GET", "/web/a/headers?q=1");
    assert_eq!(status, 200, "{body}");
    let addr = s.addr;
    for want in [
        format!("spin-full-url: http://{addr}/web/a/headers?q=1"),
        "spin-path-info: /a/headers".into(),
        "spin-matched-route: /web/...".into(),
        "spin-raw-component-route: /web/...".into(),
        "spin-component-route: /web".into(),
        "spin-base-path: /".into(),
        "spin-client-addr: 127.0.0.1:".into(),
    ] {
        assert!(body.contains(&want), "want {want:?} in:\n{body}");
    }
    let (_, body) = text(&s, "GET", "/users/headers");
    assert!(body.contains("spin-path-match-id: headers"), "{body}");
    assert!(
        body.lines().any(|l| l == "spin-path-info: "),
        "an exact route has no path info: {body}"
    );
}

#[test]
fn spin_headers_only_for_apps_from_spin_toml() {
    let hub = Hub::new();
    let manifest = hub.tmp.path().join("wasmhub.toml");
    let wasm = g(SPIN_SDK_HTTP);
    std::fs::write(
        &manifest,
        format!(
            "[app]\nname = \"plain\"\n\n[component.web]\nsource = {wasm:?}\nroute = \"/...\"\nwasi = \"0.3\"\n"
        ),
    )
    .unwrap();
    let s = Served::start(&hub, &[&manifest.display().to_string()]);
    let (status, body) = text(&s, "GET", "/x/headers");
    assert_eq!((status, body.as_str()), (200, ""), "no spin-* headers");
}
