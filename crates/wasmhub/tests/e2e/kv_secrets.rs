//! `wasi:config`: values and secrets reach the guest granted them, and secrets appear in no
//! output (`check`, `inspect`, the debug log, `--report`, metrics, errors); a secret file
//! others may read is refused with the fix.

use std::os::unix::fs::PermissionsExt;

use test_programs_artifacts::{KV_HTTP, KV_HTTP_DRAFT};

use super::harness::{Hub, assert_fails_with, g};
use super::kv::{component, get, write_manifest};
use super::server::{Served, request};

const ENV_SECRET: &str = "tok-s3cr3t-4242";
const FILE_SECRET: &str = "file-s3cr3t-7777";
const FLAG_SECRET: &str = "flag-s3cr3t-9191";

/// Asserts that no secret appears in `text` (what `what` printed).
fn no_secret(what: &str, text: &str) {
    for secret in [ENV_SECRET, FILE_SECRET, FLAG_SECRET] {
        assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
    }
}

/// The secret file, mode `mode`, and an app granting `kv` a value and both secrets; `peer`
/// is granted nothing.
fn app(hub: &Hub, mode: u32) -> (String, String) {
    let file = hub.tmp.path().join("db-password");
    std::fs::write(&file, FILE_SECRET).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    let file = file.display().to_string();
    let grant = format!(
        r#"keyvalue = ["default"]
config = {{ greeting = "hello", token = {{ env = "KV_TEST_TOKEN", secret = true }}, db = {{ file = {file:?}, secret = true }} }}"#
    );
    let text = format!(
        "[app]\nname = \"secrets\"\n{}{}",
        component("kv", KV_HTTP, &grant),
        component("peer", KV_HTTP_DRAFT, r#"keyvalue = ["default"]"#),
    );
    (write_manifest(hub, "secrets", &text), file)
}

#[test]
fn secrets_reach_the_guest_and_no_output() {
    let hub = Hub::new();
    let (manifest, _) = app(&hub, 0o600);
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = Served::start_env(
        &hub,
        &["--metrics-addr", &metrics.to_string(), &manifest],
        &[("KV_TEST_TOKEN", ENV_SECRET), ("WASMHUB_LOG", "debug")],
    );
    assert_eq!(get(&s, "/kv/config?key=greeting"), (200, "hello".into()));
    assert_eq!(get(&s, "/kv/config?key=token"), (200, ENV_SECRET.into()));
    assert_eq!(get(&s, "/kv/config?key=db"), (200, FILE_SECRET.into()));
    let all = get(&s, "/kv/config-all");
    let want = format!("db={FILE_SECRET}\ngreeting=hello\ntoken={ENV_SECRET}\n");
    assert_eq!(all, (200, want));
    // Config is granted per component: the peer sees none of it.
    assert_eq!(get(&s, "/peer/config?key=token"), (404, "none".into()));
    assert_eq!(get(&s, "/peer/config-all"), (200, String::new()));
    let m = request(metrics, "GET", "/metrics", &[]).text();
    no_secret("metrics", &m);
    let log = stop(s);
    no_secret("the debug log", &log);

    let check = hub.output(
        hub.cmd()
            .args(["check", &manifest])
            .env("KV_TEST_TOKEN", ENV_SECRET),
    );
    assert_eq!(check.code, 0, "{}", check.stderr);
    let shown = format!("{}{}", check.stdout, check.stderr);
    no_secret("check", &shown);
    assert!(
        shown.contains("<secret>"),
        "check shows secrets as <secret>:\n{shown}"
    );
    assert!(shown.contains("greeting"), "{shown}");
    assert!(shown.contains("default"), "the store label: {shown}");

    let inspect = hub.output(
        hub.cmd()
            .args(["inspect", g(KV_HTTP)])
            .env("KV_TEST_TOKEN", ENV_SECRET),
    );
    no_secret("inspect", &format!("{}{}", inspect.stdout, inspect.stderr));
}

#[test]
fn secrets_given_by_flags_stay_hidden_in_check_and_the_log() {
    let hub = Hub::new();
    let secret_file = hub.tmp.path().join("flag-secret");
    std::fs::write(&secret_file, FLAG_SECRET).unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file_flag = format!("db=file:{}", secret_file.display());
    let mut args = vec![
        "--keyvalue",
        "default",
        "--config",
        "greeting=hi",
        "--config-secret",
        "token=env:KV_TEST_TOKEN",
        "--config-secret",
        &file_flag,
        g(KV_HTTP),
    ];
    let env = [("KV_TEST_TOKEN", ENV_SECRET), ("WASMHUB_LOG", "debug")];
    let s = Served::start_env(&hub, &args, &env);
    assert_eq!(get(&s, "/config?key=greeting"), (200, "hi".into()));
    assert_eq!(get(&s, "/config?key=token"), (200, ENV_SECRET.into()));
    assert_eq!(get(&s, "/config?key=db"), (200, FLAG_SECRET.into()));
    // A failing store call logs at debug level too: still no secret.
    assert_eq!(get(&s, "/incr?key=x&by=1").0, 200);
    let log = stop(s);
    no_secret("the debug log", &log);

    args.insert(0, "check");
    let check = hub.output(hub.cmd().args(&args).envs(env));
    assert_eq!(check.code, 0, "{}", check.stderr);
    let shown = format!("{}{}", check.stdout, check.stderr);
    no_secret("check", &shown);
    assert!(shown.contains("<secret>"), "{shown}");
}

/// Stops `s` gracefully and returns its whole log.
fn stop(mut s: Served) -> String {
    s.sigterm();
    let _ = s.child.wait();
    s.wait_log("shutting down")
}

#[test]
fn a_secret_file_others_may_read_is_refused_with_the_fix() {
    let hub = Hub::new();
    let (manifest, file) = app(&hub, 0o644);
    let fix = format!("chmod 600 {file}");
    let check = hub.output(
        hub.cmd()
            .args(["check", &manifest])
            .env("KV_TEST_TOKEN", ENV_SECRET),
    );
    assert_fails_with(&check, &fix);
    no_secret("check", &check.stderr);
    let serve = hub.output(
        hub.cmd()
            .args(["serve", "--addr", "127.0.0.1:0", &manifest])
            .env("KV_TEST_TOKEN", ENV_SECRET),
    );
    assert_fails_with(&serve, &fix);
    no_secret("serve", &serve.stderr);
    // Group-readable only is refused just the same.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let check = hub.output(
        hub.cmd()
            .args(["check", &manifest])
            .env("KV_TEST_TOKEN", ENV_SECRET),
    );
    assert_fails_with(&check, &fix);
}
