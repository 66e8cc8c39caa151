//! Bad state and configuration input: each whole message against `tests/ui/state-*.err`.

use std::os::unix::fs::PermissionsExt;

use test_programs_artifacts::KV_HTTP;

use super::harness::{Hub, g, golden};

/// Writes a manifest serving the kv guest with `grant` under its grant table and `extra`
/// after it, and returns its path.
fn manifest(hub: &Hub, grant: &str, extra: &str) -> String {
    let path = hub.tmp.path().join("wasmhub.toml");
    let text = format!(
        "[app]\nname = \"shop\"\n\n[component.kv]\nsource = \"{}\"\nroute = \"/...\"\n\n\
         [component.kv.grant]\n{grant}\n{extra}",
        g(KV_HTTP)
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn fails(hub: &Hub, args: &[&str]) -> String {
    let r = hub.run(args);
    assert_eq!(r.code, 2, "{args:?} should fail with 2: {}", r.stderr);
    hub.normalize(&r.stderr)
}

#[test]
fn bad_labels_and_config_are_named_on_their_line() {
    let hub = Hub::new();
    let m = manifest(&hub, "keyvalue = [\"../up\"]", "");
    golden("state-bad-label", &fails(&hub, &["check", &m]));
    let m = manifest(
        &hub,
        "keyvalue = [\"default\"]",
        "\n[keyvalue.sesions]\nkeys = 10\n",
    );
    golden(
        "state-limits-of-ungranted-store",
        &fails(&hub, &["check", &m]),
    );
    let m = manifest(&hub, "config = { a = { env = \"A\", file = \"/f\" } }", "");
    golden("state-bad-config", &fails(&hub, &["check", &m]));
    let r = hub.run(&["run", "--config-secret", "token=TOKEN", g(KV_HTTP)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("write env:NAME") && r.stderr.contains("file:PATH"),
        "{}",
        r.stderr
    );
}

#[test]
fn secrets_are_refused_when_others_can_read_them_and_never_shown() {
    let hub = Hub::new();
    let secret = hub.tmp.path().join("db-password");
    std::fs::write(&secret, "hunter2-do-not-print\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let grant = format!(
        "config = {{ db = {{ file = \"{}\", secret = true }} }}",
        secret.display()
    );
    let m = manifest(&hub, &grant, "");
    let err = fails(&hub, &["check", &m]);
    assert!(!err.contains("hunter2"), "{err}");
    golden("state-secret-readable-by-others", &err);

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = hub.run(&["check", &m]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("<secret>"), "{}", r.stdout);
    assert!(!r.stdout.contains("hunter2") && !r.stderr.contains("hunter2"));

    let m = manifest(
        &hub,
        "config = { token = { env = \"WASMHUB_TEST_UNSET_TOKEN\", secret = true } }",
        "",
    );
    golden("state-secret-env-unset", &fails(&hub, &["check", &m]));
}
