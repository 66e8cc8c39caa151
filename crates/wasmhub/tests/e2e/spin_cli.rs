//! `inspect` and `invoke` on a Spin app: `inspect spin.toml` lists its components,
//! `inspect --component NAME spin.toml` reports one (text or JSON), and
//! `invoke --component NAME spin.toml CALL` calls one with the grants and budget the
//! `spin.toml` (and a `wasmhub.toml` naming it) give.

use std::path::Path;

use test_programs_artifacts::GREET;

use super::harness::{Hub, g};
use super::spin::spin_app;

/// The Spin-SDK handler on `/...`, and `greet` (exported functions, no trigger).
const APP: &str = r#"spin_manifest_version = 2

[application]
name = "spin-cli"

[[trigger.http]]
route = "/..."
component = "web"

[component.web]
source = "web.wasm"
key_value_stores = ["default"]

[component.greet]
source = "greet.wasm"
"#;

/// The app's `spin.toml` path, with `greet.wasm` beside it.
fn app(hub: &Hub) -> String {
    let spin = spin_app(hub, APP);
    std::fs::copy(g(GREET), Path::new(&spin).with_file_name("greet.wasm")).unwrap();
    spin
}

#[test]
fn spin_inspect_lists_the_components_of_a_spin_app() {
    let hub = Hub::new();
    let spin = app(&hub);
    let r = hub.run(&["inspect", &spin]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("app \"spin-cli\""), "{}", r.stdout);
    let row = |name: &str| {
        r.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in:\n{}", r.stdout))
            .to_owned()
    };
    assert!(row("web").ends_with("http-handler-0.3"), "{}", r.stdout);
    assert!(row("greet").ends_with("library"), "{}", r.stdout);
}

#[test]
fn spin_inspect_component_reports_one_component_of_a_spin_app() {
    let hub = Hub::new();
    let spin = app(&hub);
    let r = hub.run(&["inspect", "--component", "web", &spin]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("kind:      wasi:http handler, WASI 0.3"),
        "{}",
        r.stdout
    );
    for import in [
        "spin:key-value/key-value@3.0.0",
        "spin:variables/variables@3.0.0",
    ] {
        assert!(r.stdout.contains(import), "{import} in:\n{}", r.stdout);
    }
    let r = hub.run(&["inspect", "--json", "--component", "greet", &spin]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["kind"], "library");
    assert!(v["path"].as_str().unwrap().ends_with("greet.wasm"), "{v}");
    let r = hub.run(&["inspect", "--component", "nope", &spin]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("has no component \"nope\": pick one of web, greet"),
        "{}",
        r.stderr
    );
}

#[test]
fn spin_invoke_calls_a_component_of_a_spin_app_under_its_budget() {
    let hub = Hub::new();
    let spin = app(&hub);
    let r = hub.run(&["invoke", "--component", "greet", &spin, "greet(\"spin\")"]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"Hello, spin!\""),
        "{}",
        r.stderr
    );
    let r = hub.run(&["invoke", &spin, "greet(\"spin\")"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("pick one with --component NAME (web, greet)"),
        "{}",
        r.stderr
    );
    // A budget from the wasmhub.toml naming the spin.toml applies to `invoke` too.
    let settings = Path::new(&spin).with_file_name("wasmhub.toml");
    std::fs::write(
        &settings,
        "[app]\nspin = \"spin.toml\"\n\n[component.greet.budget]\nfuel = 10\n",
    )
    .unwrap();
    let settings = settings.display().to_string();
    let r = hub.run(&[
        "invoke",
        "--component",
        "greet",
        &settings,
        "greet(\"spin\")",
    ]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("ran out of fuel: it used all 10 units"),
        "{}",
        r.stderr
    );
}

#[test]
fn spin_check_names_the_spin_toml_keys_that_grant() {
    let hub = Hub::new();
    let spin = app(&hub);
    let r = hub.run(&["check", &spin]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for want in [
        "add allowed_outbound_hosts = [\"https://HOST\"] under [component.web] (",
        "add variables = { name = \"value\" } under [component.web] (",
    ] {
        assert!(r.stdout.contains(want), "want {want:?} in:\n{}", r.stdout);
    }
    assert!(
        !r.stdout.contains(".grant]"),
        "no wasmhub.toml table for a spin.toml:\n{}",
        r.stdout
    );
}
