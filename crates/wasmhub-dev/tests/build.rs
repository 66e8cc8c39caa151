//! Builds from `[component.NAME.build]`: order, failure, the setup stamp, cancellation.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmhub_dev::{BuildError, Cancel, Lines, build_all, build_one, plan};
use wasmhub_manifest::{Sources, load_with};

fn app(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wasmhub.toml"), text).unwrap();
    dir
}

fn targets(dir: &Path, selected: &[&str]) -> Vec<wasmhub_dev::Target> {
    let m = load_with(&dir.join("wasmhub.toml"), Sources::MayBeBuilt).unwrap();
    let selected: Vec<String> = selected.iter().map(|s| s.to_string()).collect();
    plan(&m, &selected).unwrap()
}

fn collect() -> (Lines, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let lines: Lines = Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_owned()));
    (lines, seen)
}

const THREE: &str = r#"
[app]
name = "shop"

[component.front]
source = "front.wasm"
[component.front.build]
command = "echo front >> order.log && touch front.wasm"
[component.front.link]
"acme:cart/api" = "cart"

[component.cart]
source = "cart.wasm"
[component.cart.build]
command = "echo cart >> order.log && echo building cart && echo a warning >&2 && touch cart.wasm"
[component.cart.link]
"acme:pricing/calc" = "pricing"

[component.pricing]
source = "pricing.wasm"
[component.pricing.build]
command = "echo pricing >> order.log && touch pricing.wasm"
"#;

#[test]
fn providers_build_first_and_lines_are_prefixed() {
    let dir = app(THREE);
    let (lines, seen) = collect();
    build_all(&targets(dir.path(), &[]), &lines).unwrap();
    let order = std::fs::read_to_string(dir.path().join("order.log")).unwrap();
    assert_eq!(order, "pricing\ncart\nfront\n");
    let seen = seen.lock().unwrap();
    assert!(
        seen.contains(&"cart    | building cart".to_owned()),
        "{seen:?}"
    );
    assert!(seen.contains(&"cart    | a warning".to_owned()), "{seen:?}");
    assert!(
        seen.contains(&"pricing | $ echo pricing >> order.log && touch pricing.wasm".to_owned()),
        "{seen:?}"
    );
}

#[test]
fn the_first_failure_stops_the_build() {
    let dir = app(&THREE.replace("touch cart.wasm", "exit 3"));
    let (lines, _) = collect();
    let err = build_all(&targets(dir.path(), &[]), &lines).unwrap_err();
    assert!(
        matches!(&err, BuildError::Failed { name, .. } if name == "cart"),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with("component \"cart\": build command `echo cart"),
        "{msg}"
    );
    assert!(msg.contains("exit status: 3"), "{msg}");
    let order = std::fs::read_to_string(dir.path().join("order.log")).unwrap();
    assert_eq!(order, "pricing\ncart\n", "front never starts");
}

#[test]
fn a_build_that_writes_nothing_is_an_error() {
    let dir = app(&THREE.replace("touch pricing.wasm", "true"));
    let (lines, _) = collect();
    let err = build_all(&targets(dir.path(), &["pricing"]), &lines).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("did not write") && msg.contains("pricing.wasm"),
        "{msg}"
    );
}

#[test]
fn setup_reruns_only_when_its_inputs_change() {
    let dir = app(r#"
[app]
name = "js"

[component.web]
source = "web/web.wasm"
[component.web.build]
command = "touch web.wasm"
workdir = "web"
watch = ["src/**/*.js"]
setup = { command = "echo ran >> setup.log && touch lock.json", inputs = ["package.json", "lock.json"] }
"#);
    let web = dir.path().join("web");
    std::fs::create_dir(&web).unwrap();
    std::fs::write(web.join("package.json"), "{}").unwrap();
    let runs = || {
        std::fs::read_to_string(web.join("setup.log"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let (lines, _) = collect();
    let build = || build_all(&targets(dir.path(), &[]), &lines).unwrap();
    build();
    assert_eq!(runs(), 1, "the first build sets up");
    build();
    assert_eq!(
        runs(),
        1,
        "unchanged inputs (including the lockfile setup wrote) skip it"
    );
    assert!(dir.path().join(".wasmhub/setup/web.sha256").is_file());
    std::fs::write(web.join("package.json"), r#"{"dependencies":{}}"#).unwrap();
    build();
    assert_eq!(runs(), 2, "a changed input reruns it");
    build();
    assert_eq!(runs(), 2);
    std::fs::remove_file(web.join("lock.json")).unwrap();
    build();
    assert_eq!(runs(), 3, "a removed input reruns it");
}

#[test]
fn a_failed_setup_is_retried() {
    let dir = app(r#"
[app]
name = "js"

[component.web]
source = "web.wasm"
build = { command = "touch web.wasm", setup = { command = "echo ran >> setup.log; test -e ok", inputs = ["in"] } }
"#);
    let (lines, _) = collect();
    let err = build_all(&targets(dir.path(), &[]), &lines).unwrap_err();
    assert!(
        matches!(err, BuildError::Failed { step: "setup", .. }),
        "{err}"
    );
    std::fs::write(dir.path().join("ok"), "").unwrap();
    build_all(&targets(dir.path(), &[]), &lines).unwrap();
    let runs = std::fs::read_to_string(dir.path().join("setup.log")).unwrap();
    assert_eq!(runs.lines().count(), 2);
}

#[test]
fn a_cancelled_build_is_killed_with_its_children() {
    let dir = app(r#"
[app]
name = "slow"

[component.slow]
source = "slow.wasm"
build = { command = "sleep 60 & echo $! > child.pid; wait" }
"#);
    let (lines, _) = collect();
    let target = targets(dir.path(), &[]).remove(0);
    let cancel = Cancel::default();
    let canceller = cancel.clone();
    let pid_file = dir.path().join("child.pid");
    let waiter = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !pid_file.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        canceller.cancel();
    });
    let started = Instant::now();
    let err = build_one(&target, 4, &lines, &cancel).unwrap_err();
    waiter.join().unwrap();
    assert!(matches!(err, BuildError::Cancelled { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "not left to sleep 60 s"
    );
    let pid: i32 = std::fs::read_to_string(dir.path().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The grandchild is gone (or a zombie being reaped): its /proc entry says so.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if status.is_empty() || status.contains("State:\tZ") {
            break;
        }
        assert!(Instant::now() < deadline, "sleep {pid} still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
}
