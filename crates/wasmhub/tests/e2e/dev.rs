//! `wasmhub dev`: builds, serves, and on an edit rebuilds the component whose watch globs
//! match and reloads in place; a failed build keeps the last good version serving; a
//! component that never built answers 503 with its build error while the others serve.
//! (The templates' tests edit real Rust, JavaScript and Python sources under `dev`.)

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use test_programs_artifacts::{HELLO_HTTP, VERSION_HTTP};

use super::harness::{Hub, g};
use super::server::{Resp, request};

/// A running `wasmhub dev`: its address and everything it printed; killed on drop.
pub struct Dev {
    child: Child,
    pub addr: SocketAddr,
    out: Arc<Mutex<String>>,
}

impl Dev {
    /// Starts `wasmhub dev` on `manifest` in `dir` and waits for its address.
    pub fn start(hub: &Hub, dir: &Path, manifest: &str) -> Self {
        let mut child = hub
            .cmd()
            .current_dir(dir)
            .args(["dev", "--addr", "127.0.0.1:0", manifest])
            .env("WASMHUB_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wasmhub dev starts");
        let out = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sink = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut out = sink.lock().unwrap();
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        let mut dev = Self {
            child,
            addr: "127.0.0.1:1".parse().unwrap(),
            out,
        };
        let line = dev.wait_for("listening on http://", Duration::from_secs(600));
        dev.addr = line
            .trim_start_matches("listening on http://")
            .parse()
            .unwrap();
        dev.wait_for("watching ", Duration::from_secs(60));
        dev
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits until a printed line contains `needle` (after any earlier such line: the
    /// `n`-th is found by counting), returning that line.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for_nth(needle, 1, timeout)
    }

    /// Waits for the `n`-th line containing `needle`.
    pub fn wait_for_nth(&self, needle: &str, n: usize, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.output();
            if let Some(line) = out.lines().filter(|l| l.contains(needle)).nth(n - 1) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?} (#{n}) within {timeout:?}:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Resp {
        request(self.addr, "GET", path, &[])
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An app whose `web` is "built" by copying the guest named in `web.src`, and whose
/// `broken` never builds.
fn app(hub: &Hub) -> String {
    let dir = hub.tmp.path();
    std::fs::write(dir.join("web.src"), g(HELLO_HTTP)).unwrap();
    let text = "[app]\nname = \"devapp\"\n\n\
        [component.web]\nsource = \"web.wasm\"\nroute = \"/web\"\n\
        [component.web.grant]\nenv = [\"VERSION=2\"]\n\
        [component.web.build]\ncommand = \"cp \\\"$(cat web.src)\\\" web.wasm\"\nwatch = [\"web.src\"]\n\n\
        [component.broken]\nsource = \"broken.wasm\"\nroute = \"/broken/...\"\n\
        [component.broken.build]\ncommand = \"echo 'broken.rs:3: expected one of `;`' >&2; exit 1\"\nwatch = [\"broken.rs\"]\n";
    std::fs::write(dir.join("wasmhub.toml"), text).unwrap();
    "wasmhub.toml".into()
}

#[test]
fn an_edit_rebuilds_and_reloads_and_a_failed_build_keeps_the_old_version() {
    let hub = Hub::new();
    let manifest = app(&hub);
    let dev = Dev::start(&hub, hub.tmp.path(), &manifest);
    let r = dev.get("/web");
    assert_eq!((r.status, r.text()), (200, "Hello, wasm!".to_owned()));

    // Never built: 503 with its build error on its own routes; the others serve.
    let r = dev.get("/broken/x");
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.text().contains("component \"broken\" cannot run yet"),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains("broken.rs:3: expected one of"),
        "{}",
        r.text()
    );

    // An edit of a watched file: rebuilt and reloaded, one line.
    std::fs::write(hub.tmp.path().join("web.src"), g(VERSION_HTTP)).unwrap();
    let line = dev.wait_for("reloaded web (build ", Duration::from_secs(120));
    assert!(line.contains("-> generation 2"), "{line}");
    let r = dev.get("/web");
    assert_eq!((r.status, r.text()), (200, "2".to_owned()));

    // A failing build: its error once, and the last good version keeps serving.
    std::fs::write(hub.tmp.path().join("web.src"), "/nonexistent/web.wasm").unwrap();
    dev.wait_for(
        "error: component \"web\": build command",
        Duration::from_secs(120),
    );
    let r = dev.get("/web");
    assert_eq!((r.status, r.text()), (200, "2".to_owned()));
    let out = dev.output();
    assert_eq!(out.matches("error: component \"web\"").count(), 1, "{out}");
    assert!(!out.contains("generation 3"), "{out}");

    // Fixed again: served again.
    std::fs::write(hub.tmp.path().join("web.src"), g(HELLO_HTTP)).unwrap();
    dev.wait_for_nth("reloaded web (build ", 2, Duration::from_secs(120));
    let r = dev.get("/web");
    assert_eq!((r.status, r.text()), (200, "Hello, wasm!".to_owned()));

    // Outputs and unwatched files trigger nothing.
    let before = dev.output().matches("reloaded").count();
    std::fs::write(hub.tmp.path().join("notes.txt"), "x").unwrap();
    std::fs::write(hub.tmp.path().join(".wasmhub-scratch"), "x").unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        dev.output().matches("reloaded").count(),
        before,
        "{}",
        dev.output()
    );
}

#[test]
fn a_newer_change_cancels_a_build_and_a_manifest_change_reloads() {
    let hub = Hub::new();
    let dir = hub.tmp.path();
    std::fs::write(dir.join("web.src"), g(HELLO_HTTP)).unwrap();
    // A build sleeps (far longer than the test waits) while web.src says "slow".
    let manifest = |version: &str| {
        format!(
            "[app]\nname = \"devapp\"\n\n\
             [component.web]\nsource = \"web.wasm\"\nroute = \"/web\"\n\
             [component.web.grant]\nenv = [\"VERSION={version}\"]\n\
             [component.web.build]\n\
             command = \"if grep -q slow web.src; then echo sleeping; sleep 600; fi; cp \\\"$(tail -n 1 web.src)\\\" web.wasm\"\n\
             watch = [\"web.src\"]\n"
        )
    };
    std::fs::write(dir.join("wasmhub.toml"), manifest("2")).unwrap();
    let dev = Dev::start(&hub, dir, "wasmhub.toml");
    assert_eq!(dev.get("/web").text(), "Hello, wasm!");

    std::fs::write(dir.join("web.src"), format!("slow\n{}", g(VERSION_HTTP))).unwrap();
    dev.wait_for("web | sleeping", Duration::from_secs(120));
    std::fs::write(dir.join("web.src"), g(VERSION_HTTP)).unwrap();
    dev.wait_for("a newer change: building again", Duration::from_secs(120));
    let line = dev.wait_for("reloaded web (build ", Duration::from_secs(300));
    assert!(line.contains("-> generation 2"), "{line}");
    assert_eq!(dev.get("/web").text(), "2");

    // The manifest changed: everything reloads, nothing is rebuilt.
    std::fs::write(dir.join("wasmhub.toml"), manifest("3")).unwrap();
    let line = dev.wait_for("reloaded the manifest", Duration::from_secs(120));
    assert!(line.contains("-> generation 3"), "{line}");
    assert_eq!(dev.get("/web").text(), "3");
}
