//! `wasmhub kv`: an app's stores from the command line, export and import as JSON lines.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::harness::{Hub, Ran, assert_fails_with};

/// `wasmhub kv ARGS --data-dir <this hub's data dir>`.
fn kv(hub: &Hub, args: &[&str]) -> Ran {
    let dir = data_dir(hub);
    let mut all = vec!["kv"];
    all.extend_from_slice(args);
    all.extend(["--data-dir", dir.to_str().unwrap()]);
    hub.run(&all)
}

fn data_dir(hub: &Hub) -> PathBuf {
    hub.tmp.path().join("data")
}

/// `wasmhub kv ARGS` with `input` on standard input.
fn kv_with_input(hub: &Hub, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = hub
        .cmd()
        .arg("kv")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir(hub))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn set_get_list_delete() {
    let hub = Hub::new();
    let r = kv(&hub, &["--app", "shop", "set", "greeting", "hello"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    kv(&hub, &["--app", "shop", "set", "a/b", "1"]);
    let r = kv(&hub, &["get", "greeting", "--app", "shop"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "hello"), "{}", r.stderr);
    let r = kv(&hub, &["list", "--app", "shop"]);
    assert_eq!(r.stdout, "a/b\ngreeting\n");
    // Another store of the same app, and another app, see none of it.
    assert_eq!(
        kv(&hub, &["list", "--app", "shop", "--store", "other"]).stdout,
        ""
    );
    assert_eq!(kv(&hub, &["get", "greeting", "--app", "cart"]).code, 1);
    let r = kv(&hub, &["delete", "greeting", "--app", "shop"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = kv(&hub, &["get", "greeting", "--app", "shop"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim(),
        "store \"default\" of app \"shop\" has no key \"greeting\""
    );
    // The state is private to this user.
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(data_dir(&hub).join("kv")), 0o700);
    assert_eq!(mode(data_dir(&hub).join("kv/app-shop.redb")), 0o600);
}

#[test]
fn the_data_dir_comes_from_the_environment() {
    let hub = Hub::new();
    let dir = hub.tmp.path().join("from-env");
    let run = |args: &[&str]| {
        hub.output(
            hub.cmd()
                .arg("kv")
                .args(args)
                .env("WASMHUB_DATA_DIR", &dir)
                .env_remove("XDG_DATA_HOME"),
        )
    };
    assert_eq!(run(&["set", "k", "v", "--app", "a"]).code, 0);
    assert_eq!(run(&["get", "k", "--app", "a"]).stdout, "v");
    assert!(dir.join("kv/app-a.redb").exists());
}

#[test]
fn export_then_import_moves_text_and_bytes() {
    let hub = Hub::new();
    let out = kv_with_input(&hub, &["set", "bin", "--app", "from"], &[0xff, 0, 1]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    kv(&hub, &["set", "text", "héllo\nworld", "--app", "from"]);
    // A NUL cannot be an argument; JSON lines carry it.
    let nul = kv_with_input(
        &hub,
        &["import", "--app", "from"],
        br#"{"key":"nul\u0000key","value":""}"#,
    );
    assert!(
        nul.status.success(),
        "{}",
        String::from_utf8_lossy(&nul.stderr)
    );
    let exported = kv(&hub, &["export", "--app", "from"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    assert_eq!(
        exported.stdout,
        concat!(
            r#"{"key":"bin","value_b64":"/wAB"}"#,
            "\n",
            r#"{"key":"nul\u0000key","value":""}"#,
            "\n",
            r#"{"key":"text","value":"héllo\nworld"}"#,
            "\n"
        )
    );
    let out = kv_with_input(
        &hub,
        &["import", "--app", "to", "--store", "copy"],
        exported.stdout.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "imported 3 key(s) into store \"copy\" of app \"to\""
    );
    let again = kv(&hub, &["export", "--app", "to", "--store", "copy"]);
    assert_eq!(again.stdout, exported.stdout);
    let raw = hub
        .cmd()
        .args([
            "kv",
            "get",
            "bin",
            "--app",
            "to",
            "--store",
            "copy",
            "--data-dir",
        ])
        .arg(data_dir(&hub))
        .output()
        .unwrap();
    assert_eq!(raw.stdout, [0xff, 0, 1], "get prints the bytes as stored");
}

#[test]
fn a_bad_import_line_is_named_and_nothing_is_written() {
    let hub = Hub::new();
    let input = b"{\"key\":\"a\",\"value\":\"1\"}\n\n{\"key\":\"b\"}\n";
    let out = kv_with_input(&hub, &["import", "--app", "a"], input);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("standard input, line 3"), "{err}");
    assert!(
        err.contains("exactly one string \"value\" or \"value_b64\""),
        "{err}"
    );
    assert_eq!(kv(&hub, &["list", "--app", "a"]).stdout, "");
}

#[test]
fn the_value_limit_holds_at_its_edge() {
    let hub = Hub::new();
    let at = vec![b'x'; 1024 * 1024];
    let out = kv_with_input(&hub, &["set", "big", "--app", "a"], &at);
    assert!(
        out.status.success(),
        "exactly 1 MiB passes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let past = vec![b'y'; 1024 * 1024 + 1];
    let out = kv_with_input(&hub, &["set", "big", "--app", "a"], &past);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: store \"default\" of app \"a\": value of 1048577 bytes is larger than the limit of 1048576 bytes"),
        "{err}"
    );
    let r = kv(&hub, &["get", "big", "--app", "a"]);
    assert_eq!(r.stdout.len(), 1024 * 1024, "the old value stays");
    let r = kv(&hub, &["set", &"k".repeat(1025), "v", "--app", "a"]);
    assert_fails_with(
        &r,
        "key of 1025 bytes is longer than the limit of 1024 bytes",
    );
}

#[test]
fn an_app_held_by_another_process_is_refused_with_the_fix() {
    let hub = Hub::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    // `kv import` opens the app's state, then waits for its input: it holds the file.
    loop {
        let mut holder = hub
            .cmd()
            .args(["kv", "import", "--app", "held", "--data-dir"])
            .arg(data_dir(&hub))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let refused = loop {
            let r = kv(&hub, &["list", "--app", "held"]);
            if r.code == 2 {
                break Some(r);
            }
            // Our probe may have held the file when the holder opened it: start again.
            if holder.try_wait().unwrap().is_some() || Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let Some(r) = refused else {
            let _ = holder.kill();
            let _ = holder.wait();
            assert!(Instant::now() < deadline, "the holder never held the file");
            continue;
        };
        let file = data_dir(&hub).join("kv/app-held.redb");
        assert_fails_with(
            &r,
            &format!(
                "the state of app \"held\" ({}) is in use by another wasmhub process; stop it or use another --data-dir",
                file.display()
            ),
        );
        drop(holder.stdin.take());
        assert!(holder.wait().unwrap().success());
        break;
    }
    assert_eq!(
        kv(&hub, &["list", "--app", "held"]).code,
        0,
        "free once the holder exits"
    );
}

#[test]
fn the_app_is_required() {
    let hub = Hub::new();
    assert_fails_with(&kv(&hub, &["list"]), "pass --app NAME");
}
