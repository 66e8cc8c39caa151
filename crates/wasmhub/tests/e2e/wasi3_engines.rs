//! An app mixing WASI 0.2 and 0.3 components runs each version on its own engine (0.2
//! calls then skip the concurrency machinery), and a reload may move a component between
//! them.

use test_programs_artifacts::{HELLO_HTTP, HELLO_HTTP3};

use super::harness::{Hub, g};
use super::reload::{reload_ok, start};
use super::server::toml_path;

/// An app with `old` at `/v2/...` and `new` at `/v3/...`; `old_wasi3` moves `old` to 0.3.
fn mixed(old_wasi3: bool) -> String {
    format!(
        "[app]\nname = \"mixed\"\n\n[component.new]\nsource = {}\nroute = \"/v3/...\"\n\
         wasi = \"0.3\"\n\n[component.old]\nsource = {}\nroute = \"/v2/...\"\n{}",
        toml_path(g(HELLO_HTTP3)),
        toml_path(if old_wasi3 {
            g(HELLO_HTTP3)
        } else {
            g(HELLO_HTTP)
        }),
        if old_wasi3 { "wasi = \"0.3\"\n" } else { "" },
    )
}

#[test]
fn a_mixed_app_runs_each_wasi_version_on_its_engine_and_reloads_across_them() {
    let hub = Hub::new();
    let s = start(&hub, &mixed(false), &[]);
    s.wait_log("engines: WASI 0.2, WASI 0.3 (concurrency support)");
    let get = |route: &str| {
        let r = s.get(route);
        (r.status, r.text())
    };
    for route in ["/v2/hello", "/v3/hello", "/v2/again"] {
        assert_eq!(get(route), (200, "Hello, wasm!".to_owned()), "{route}");
    }
    // `old` moves to WASI 0.3 (and its 0.3 code): it now runs on the 0.3 engine.
    let path = hub.tmp.path().join("wasmhub.toml");
    std::fs::write(&path, mixed(true)).unwrap();
    reload_ok(&s);
    assert_eq!(get("/v2/stream").0, 200);
    assert_eq!(get("/v2/hello"), (200, "Hello, wasm!".to_owned()));
    // And back to 0.2, on the 0.2 engine.
    std::fs::write(&path, mixed(false)).unwrap();
    reload_ok(&s);
    for route in ["/v2/hello", "/v3/hello"] {
        assert_eq!(get(route), (200, "Hello, wasm!".to_owned()), "{route}");
    }
}
