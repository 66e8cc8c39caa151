//! Clear failures: each bad input's whole message is checked against `tests/ui/*.err`.

use test_programs_artifacts::{CLI_ECHO, GREET, NEEDS_IMPORT};

use super::harness::{Hub, g, golden};

fn fails(hub: &Hub, args: &[&str]) -> String {
    let r = hub.run(args);
    assert_eq!(r.code, 2, "{args:?} should fail with 2: {}", r.stderr);
    hub.normalize(&r.stderr)
}

#[test]
fn not_wasm() {
    let hub = Hub::new();
    let path = hub.tmp.path().join("notes.wasm");
    std::fs::write(&path, "just some text\n").unwrap();
    golden("not-wasm", &fails(&hub, &["run", path.to_str().unwrap()]));

    let wat = hub.tmp.path().join("module.wat");
    std::fs::write(&wat, "(module)\n").unwrap();
    golden("wat-text", &fails(&hub, &["run", wat.to_str().unwrap()]));

    let missing = hub.tmp.path().join("nowhere.wasm");
    golden(
        "missing-file",
        &fails(&hub, &["invoke", missing.to_str().unwrap(), "f()"]),
    );
}

#[test]
fn core_module() {
    let hub = Hub::new();
    // The smallest valid core module: the magic number and version 1.
    let path = hub.tmp.path().join("core.wasm");
    std::fs::write(&path, b"\0asm\x01\0\0\0").unwrap();
    golden(
        "core-module",
        &fails(&hub, &["run", path.to_str().unwrap()]),
    );
}

#[test]
fn import_no_host_provides() {
    let hub = Hub::new();
    golden(
        "missing-import",
        &fails(&hub, &["invoke", g(NEEDS_IMPORT), "reveal()"]),
    );
}

#[test]
fn guest_trap_shows_wasm_backtrace() {
    let hub = Hub::new();
    let out = fails(&hub, &["invoke", g(GREET), r#"greeter.fail("boom")"#]);
    // The guest's own panic message reaches stderr before wasmhub's error.
    assert!(out.contains("greeter failed: boom"), "{out}");
    let ours = &out[out.find("error:").expect("an error line")..];
    assert!(
        ours.contains("greet::explode"),
        "backtrace names the function: {ours}"
    );
    golden("guest-trap", ours);
}

#[test]
fn library_is_not_a_command() {
    let hub = Hub::new();
    golden("not-a-command", &fails(&hub, &["run", g(GREET)]));
}

#[test]
fn bad_grants() {
    let hub = Hub::new();
    let missing = hub.tmp.path().join("absent");
    let grant = format!("{}::/data", missing.display());
    golden(
        "grant-missing-dir",
        &fails(&hub, &["run", "--dir", &grant, g(CLI_ECHO)]),
    );
    golden(
        "grant-bad-dir",
        &fails(&hub, &["run", "--dir", "data:/data", g(CLI_ECHO)]),
    );
    golden(
        "grant-bad-env",
        &fails(&hub, &["run", "--env", "=x", g(CLI_ECHO)]),
    );
}
