//! A `wasmhub.toml` naming a `spin.toml`: its budgets, `strict` and store limits land on the
//! Spin app's components by name.

use std::time::Duration;

const SPIN: &str = r#"spin_manifest_version = 2

[application]
name = "shop"

[[trigger.http]]
route = "/..."
component = "web"

[[trigger.http]]
route = "/api/..."
component = "api"

[component.web]
source = "web.wasm"
key_value_stores = ["default"]

[component.api]
source = "web.wasm"
"#;

const SETTINGS: &str = r#"[app]
spin = "spin.toml"
strict = true

[component.web.budget]
profile = "function"
deadline = "1s"

[component.api]
strict = false

[keyvalue.default]
keys = 10
"#;

#[test]
fn settings_apply_to_the_spin_components_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.wasm"), b"\0asm").unwrap();
    std::fs::write(dir.path().join("spin.toml"), SPIN).unwrap();
    let path = dir.path().join("wasmhub.toml");
    std::fs::write(&path, SETTINGS).unwrap();
    assert!(wasmhub_spin::names_spin_manifest(&path));
    assert!(!wasmhub_spin::names_spin_manifest(
        &dir.path().join("spin.toml")
    ));
    let app = wasmhub_spin::load_with_settings(&path).unwrap();
    assert_eq!(app.name, "shop");
    assert_eq!(app.request_shape, wasmhub_app::RequestShape::Spin);
    let web = &app.components[0];
    assert_eq!(web.name, "web");
    assert_eq!(web.budget.fuel, Some(11_000_000), "the profile's fuel");
    assert_eq!(
        web.budget.deadline,
        Some(Duration::from_secs(1)),
        "over the profile"
    );
    assert!(
        !web.grants.clocks.value,
        "the function profile denies clocks"
    );
    assert!(web.grants.strict.value);
    assert!(
        web.grants
            .strict
            .origin
            .to_string()
            .contains("wasmhub.toml:3")
    );
    assert_eq!(web.grants.keyvalue[0].value.limits.keys, Some(10));
    let api = &app.components[1];
    assert_eq!(api.budget, wasmhub_app::Budget::default());
    assert!(!api.grants.strict.value, "its own strict over [app]'s");
}
