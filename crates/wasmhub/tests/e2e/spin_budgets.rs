//! Budgets for a Spin app: from a `wasmhub.toml` that names the `spin.toml`
//! (`[app] spin = "spin.toml"`, `[component.NAME.budget]` by the Spin component's name), or
//! from `serve`'s budget flags when the `spin.toml` is served directly; `check` shows them.

use std::path::Path;

use super::harness::{Hub, golden};
use super::server::Served;
use super::spin::spin_app;

/// Three components of one Spin-SDK build, each on its own wildcard route.
const APP: &str = r#"spin_manifest_version = 2

[application]
name = "spin-budgets"

[[trigger.http]]
route = "/fuel/..."
component = "fuel"

[[trigger.http]]
route = "/slow/..."
component = "slow"

[[trigger.http]]
route = "/free/..."
component = "free"

[component.fuel]
source = "web.wasm"

[component.slow]
source = "web.wasm"

[component.free]
source = "web.wasm"
"#;

/// `wasmhub.toml` = `settings` beside the Spin app's `spin.toml`; returns its path.
fn settings(hub: &Hub, settings: &str) -> String {
    let spin = spin_app(hub, APP);
    let path = Path::new(&spin).with_file_name("wasmhub.toml");
    std::fs::write(&path, settings).unwrap();
    path.display().to_string()
}

const SETTINGS: &str = r#"[app]
spin = "spin.toml"

[component.fuel.budget]
fuel = 50000000

[component.slow.budget]
deadline = "200ms"
"#;

/// Far more rounds than 50,000,000 units of fuel or 200 ms allow, and a few that fit.
const ENDLESS: &str = "burn/100000000000";
const FEW: &str = "burn/1000";

#[test]
fn spin_settings_budgets_are_enforced_on_the_named_components() {
    let hub = Hub::new();
    let s = Served::start(&hub, &[&settings(&hub, SETTINGS)]);
    let r = s.get(&format!("/fuel/{ENDLESS}"));
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.header("x-wasmhub-budget"), Some("fuel"));
    assert!(
        r.text()
            .contains("ran out of fuel: it used all 50,000,000 units"),
        "{}",
        r.text()
    );
    let r = s.get(&format!("/slow/{ENDLESS}"));
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.header("x-wasmhub-budget"), Some("deadline"));
    assert!(
        r.text().contains("within its deadline of 200ms"),
        "{}",
        r.text()
    );
    let r = s.get(&format!("/fuel/{FEW}"));
    assert_eq!(r.status, 200, "under its budget it answers: {}", r.text());
    assert!(r.text().starts_with("burnt "), "{}", r.text());
    assert_eq!(s.get("/free/hello").text(), "hello from spin-sdk");
}

#[test]
fn spin_toml_served_directly_takes_budgets_from_serve_flags() {
    let hub = Hub::new();
    let spin = spin_app(&hub, APP);
    let s = Served::start(&hub, &["--fuel", "50000000", &spin]);
    for route in ["fuel", "slow", "free"] {
        let r = s.get(&format!("/{route}/{ENDLESS}"));
        assert_eq!(r.status, 500, "{route}: {}", r.text());
        assert_eq!(r.header("x-wasmhub-budget"), Some("fuel"), "{route}");
    }
    assert_eq!(s.get(&format!("/free/{FEW}")).status, 200);
}

#[test]
fn spin_check_shows_the_budgets_from_settings_and_flags() {
    let hub = Hub::new();
    let path = settings(&hub, SETTINGS);
    let r = hub.run(&["check", &path]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let budget_of = |out: &str, name: &str| {
        let at = out.find(&format!("component \"{name}\"")).unwrap();
        let line = out[at..].lines().find(|l| l.contains("budget:")).unwrap();
        line.trim().to_owned()
    };
    assert!(r.stdout.starts_with("app \"spin-budgets\""), "{}", r.stdout);
    assert_eq!(
        budget_of(&r.stdout, "fuel"),
        "budget: size 64 MiB, fuel 50,000,000, deadline the request timeout, memory 256 MiB, stack 512 KiB"
    );
    assert!(budget_of(&r.stdout, "slow").contains("deadline 200 ms"));
    assert!(budget_of(&r.stdout, "free").contains("fuel none"));
    let r = hub.run(&["check", "--fuel", "7000", "--memory", "32MiB", &path]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for name in ["fuel", "slow", "free"] {
        let line = budget_of(&r.stdout, name);
        assert!(
            line.contains("fuel 7,000") && line.contains("memory 32 MiB"),
            "{line}"
        );
    }
}

#[test]
fn spin_settings_errors_name_the_component_and_the_spin_toml() {
    let hub = Hub::new();
    let fails = |name: &str, text: &str| {
        let path = settings(&hub, text);
        let r = hub.run(&["check", &path]);
        assert_eq!(r.code, 2, "{name}: {}{}", r.stdout, r.stderr);
        golden(name, &hub.normalize(&r.stderr));
    };
    fails(
        "spin-settings-unknown-component",
        "[app]\nspin = \"spin.toml\"\n\n[component.fule.budget]\nfuel = 1000\n",
    );
    fails(
        "spin-settings-missing-spin-toml",
        "[app]\nspin = \"app/spin.toml\"\n",
    );
    fails(
        "spin-settings-source",
        "[app]\nspin = \"spin.toml\"\n\n[component.fuel]\nsource = \"other.wasm\"\n",
    );
    fails(
        "spin-settings-ungranted-store",
        "[app]\nspin = \"spin.toml\"\n\n[keyvalue.default]\nkeys = 10\n",
    );
}
