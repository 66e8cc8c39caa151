//! Spin's older host interfaces, `fermyon:spin/key-value@2.0.0` and
//! `fermyon:spin/variables@2.0.0` (components built with spin-sdk 2 to 4), served from a
//! `spin.toml` as Spin's docs define them: a granted store works (a missing key is `none`,
//! deleting one is no error), an ungranted one is `access-denied`; a component variable
//! has its default through a `{{ template }}`, a name breaking Spin's rules is
//! `invalid-name`, an unknown one `undefined`.

use std::path::Path;

use test_programs_artifacts::SPIN_V2_HTTP;

use super::harness::{Hub, g};
use super::server::{Served, request};
use super::spin::spin_app;

/// `old` (fermyon:spin@2.0.0) on `/v2/...` and `web` (spin-sdk 7) on `/v3/...`, both
/// granted the store `default`.
const APP: &str = r#"spin_manifest_version = 2

[application]
name = "spin-v2"

[variables]
who = { default = "spin" }

[[trigger.http]]
route = "/v2/..."
component = "old"

[[trigger.http]]
route = "/v3/..."
component = "web"

[component.old]
source = "old.wasm"
key_value_stores = ["default"]
variables = { greeting = "hi {{ who }}" }

[component.web]
source = "web.wasm"
key_value_stores = ["default"]
"#;

fn serve(hub: &Hub) -> Served {
    let spin = spin_app(hub, APP);
    std::fs::copy(g(SPIN_V2_HTTP), Path::new(&spin).with_file_name("old.wasm")).unwrap();
    Served::start(hub, &[&spin])
}

fn call(s: &Served, method: &str, path: &str) -> (u16, String) {
    let r = request(s.addr, method, path, &[]);
    (r.status, r.text())
}

#[test]
fn spin_v2_key_value_on_a_granted_store_access_denied_on_others() {
    let hub = Hub::new();
    let s = serve(&hub);
    let ok = |body: &str| (200, body.to_owned());
    assert_eq!(call(&s, "GET", "/v2/kv/default/k"), ok("none"));
    assert_eq!(call(&s, "GET", "/v2/exists/default/k"), ok("false"));
    assert_eq!(call(&s, "PUT", "/v2/kv/default/k/v1"), ok("set"));
    assert_eq!(call(&s, "PUT", "/v2/kv/default/a/v0"), ok("set"));
    assert_eq!(call(&s, "GET", "/v2/kv/default/k"), ok("v1"));
    assert_eq!(call(&s, "GET", "/v2/exists/default/k"), ok("true"));
    assert_eq!(call(&s, "GET", "/v2/keys/default"), ok("a\nk"));
    assert_eq!(
        call(&s, "GET", "/v3/kv/default/k"),
        ok("v1"),
        "one store of the app, whichever interface version opens it"
    );
    assert_eq!(call(&s, "DELETE", "/v2/kv/default/k"), ok("deleted"));
    assert_eq!(call(&s, "GET", "/v2/kv/default/k"), ok("none"));
    assert_eq!(
        call(&s, "DELETE", "/v2/kv/default/k"),
        ok("deleted"),
        "deleting a missing key is no error"
    );
    for (method, path) in [
        ("GET", "/v2/kv/sessions/k"),
        ("PUT", "/v2/kv/sessions/k/v"),
        ("GET", "/v2/keys/sessions"),
    ] {
        assert_eq!(
            call(&s, method, path),
            (403, "access-denied".into()),
            "{method} {path}: a store the spin.toml does not grant"
        );
    }
}

#[test]
fn spin_v2_variables_default_invalid_name_and_undefined() {
    let hub = Hub::new();
    let s = serve(&hub);
    assert_eq!(
        call(&s, "GET", "/v2/var/greeting"),
        (200, "hi spin".into()),
        "the default of `who`, through the template"
    );
    for bad in ["Greeting", "1greeting", "greeting-x"] {
        let (status, body) = call(&s, "GET", &format!("/v2/var/{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body.starts_with(&format!("invalid-name: \"{bad}\"")),
            "{body}"
        );
    }
    let (status, body) = call(&s, "GET", "/v2/var/nope");
    assert_eq!(status, 404, "{body}");
    assert!(body.starts_with("undefined: "), "{body}");
    let (status, body) = call(&s, "GET", "/v2/var/who");
    assert_eq!(
        (status, body.starts_with("undefined: ")),
        (404, true),
        "an application variable is not the component's: {body}"
    );
}
