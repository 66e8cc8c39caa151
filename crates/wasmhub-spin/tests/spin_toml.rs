//! `spin.toml` read into an app: what maps, and a golden error for each key not supported yet.

use std::path::{Path, PathBuf};

use wasmhub_app::{ConfigSource, Route};

/// A directory with `web.wasm`, `other.wasm`, `static/` and `spin.toml` = `text`.
fn app_dir(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for f in ["web.wasm", "other.wasm"] {
        std::fs::write(dir.path().join(f), b"\0asm").unwrap();
    }
    std::fs::create_dir(dir.path().join("static")).unwrap();
    let path = dir.path().join("spin.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Each `tests/golden/NAME.toml` fails with the text of `NAME.err` (`$DIR` for its
/// directory); `BLESS=1` rewrites the `.err` files.
#[test]
fn unsupported_keys_match_golden_errors() {
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    entries.sort();
    for case in entries {
        let (dir, path) = app_dir(&std::fs::read_to_string(&case).unwrap());
        let err = wasmhub_spin::load(&path)
            .err()
            .unwrap_or_else(|| panic!("{} loaded", case.display()))
            .to_string()
            .replace(&dir.path().display().to_string(), "$DIR");
        let golden = case.with_extension("err");
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(&golden, format!("{err}\n")).unwrap();
        }
        let want = std::fs::read_to_string(&golden)
            .unwrap_or_else(|_| panic!("{} is missing: run with BLESS=1", golden.display()));
        assert_eq!(err, want.trim_end(), "{}", case.display());
        assert!(err.contains("not supported yet"), "{err}");
        seen += 1;
    }
    assert!(seen >= 10, "{seen} golden cases");
}

const APP: &str = r#"spin_manifest_version = 2

[application]
name = "shop"
version = "1.0.0"
authors = ["someone"]

[variables]
api_host = { default = "127.0.0.1:9" }
token = { required = true, secret = true }

[[trigger.http]]
route = "/users/:id/..."
component = "web"

[[trigger.http]]
route = { private = true }
component = "other"

[component.web]
source = "web.wasm"
description = "ignored"
files = [{ source = "static", destination = "/assets" }, "static/**"]
environment = { MODE = "test" }
allowed_outbound_hosts = ["http://{{ api_host }}", "https://*.example.com"]
key_value_stores = ["default"]
variables = { greeting = "hi", auth = "Bearer {{ token }}" }
[component.web.build]
command = "cargo build"
[component.web.dependencies]
"acme:calc/math" = { component = "other" }

[component.other]
source = "other.wasm"
"#;

#[test]
fn a_spin_app_maps_onto_the_resolved_app() {
    let (_dir, path) = app_dir(APP);
    // SAFETY: only this test reads or writes this variable.
    unsafe { std::env::set_var("SPIN_VARIABLE_TOKEN", "s3cret") };
    let app = wasmhub_spin::load(&path).unwrap();
    assert_eq!(app.name, "shop");
    let names: Vec<_> = app.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["web", "other"]);
    let web = &app.components[0];
    assert_eq!(
        web.route,
        Some(Route::try_from("/users/:id/...".to_owned()).unwrap())
    );
    assert!(app.components[1].route.is_none(), "private endpoint");
    let g = &web.grants;
    assert_eq!(g.app, "shop");
    assert_eq!(g.dirs[0].value.guest, "/assets");
    assert_eq!(g.dirs[1].value.guest, "/static");
    let hosts: Vec<String> = g.outbound.iter().map(|o| o.value.to_string()).collect();
    assert_eq!(hosts, ["http://127.0.0.1:9", "https://*.example.com"]);
    assert!(g.outbound[0].origin.to_string().ends_with("spin.toml:25"));
    assert_eq!(g.keyvalue[0].value.label.to_string(), "default");
    let config: Vec<_> = g
        .config
        .iter()
        .map(|c| (c.value.key.as_str(), &c.value.value))
        .collect();
    assert_eq!(config[0].0, "auth");
    assert!(
        config[0].1.secret,
        "a secret variable makes its template secret"
    );
    assert_eq!(
        config[0].1.source,
        ConfigSource::Value("Bearer s3cret".into())
    );
    assert!(!config[1].1.secret);
    assert_eq!(web.links[0].import.as_str(), "acme:calc/math");
    assert_eq!(web.links[0].target, "other");
    assert_eq!(web.wasi, wasmhub_app::WasiVersion::P2);
    assert!(wasmhub_spin::is_spin_manifest(&path));
}

#[test]
fn variable_errors_name_the_fix() {
    // No required variable here: another test sets SPIN_VARIABLE_TOKEN concurrently.
    let app = APP.replace("required = true", "default = \"x\"");
    let (dir, path) = app_dir(&app.replace("token = {", "Token = {"));
    let e = wasmhub_spin::load(&path).unwrap_err().to_string();
    let e = e.replace(&dir.path().display().to_string(), "$DIR");
    assert!(
        e.starts_with("$DIR/spin.toml:10: invalid variable name \"Token\": invalid character 'T'"),
        "{e}"
    );
    let (_dir, path) = app_dir(&app.replace("{{ api_host }}", "{{ nope }}"));
    let e = wasmhub_spin::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("spin.toml:25: template \"http://{{ nope }}\" names variable \"nope\""),
        "{e}"
    );
    let (_dir, path) =
        app_dir(&app.replace("spin_manifest_version = 2", "spin_manifest_version = 1"));
    let e = wasmhub_spin::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("spin.toml:1: spin_manifest_version must be 2"),
        "{e}"
    );
}
