//! Components in Node: transpiled with jco (installed by `cargo xtask setup` into `tools/js`).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::{Hub, Ran};

/// `tools/js/node_modules`, where setup installs jco and the WASI shims.
pub fn node_modules() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/js/node_modules");
    assert!(
        dir.join(".bin/jco").exists(),
        "jco is not installed in {}: run `cargo xtask setup` (or `cargo xtask test`)",
        dir.display()
    );
    dir
}

/// Transpiles `component` with `jco transpile` into `out` as module `name` (`out/NAME.js`).
pub fn transpile(hub: &Hub, component: &str, out: &Path, name: &str) {
    let jco = hub.output(
        Command::new(node_modules().join(".bin/jco"))
            .args(["transpile", component, "--quiet", "--name", name, "-o"])
            .arg(out),
    );
    assert_eq!(
        jco.code, 0,
        "jco transpile failed: {}{}",
        jco.stdout, jco.stderr
    );
}

/// Transpiles `component` into the hub's scratch dir as module `name`, then runs `script`
/// (an ES module that imports `./NAME/NAME.js`) with Node.
pub fn run_in_node(hub: &Hub, component: &str, name: &str, script: &str) -> Ran {
    let dir = hub.tmp.path().join("node");
    transpile(hub, component, &dir.join(name), name);
    // Bare imports of the WASI shims resolve from here, as from any Node project.
    let link = dir.join("node_modules");
    if !link.exists() {
        std::os::unix::fs::symlink(node_modules(), &link).unwrap();
    }
    let main = dir.join("main.mjs");
    std::fs::write(&main, script).unwrap();
    hub.output(Command::new("node").arg(EXTENDED_CONST).arg(&main))
}

/// componentize-py's CPython uses extended constant expressions, behind this flag in Node 20.
const EXTENDED_CONST: &str = "--experimental-wasm-extended-const";

/// `jco serve` of a wasi:http component on a free loopback port, stopped on drop.
pub struct JcoServed {
    child: std::process::Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
}

impl JcoServed {
    /// Starts it and waits (up to 120 s: it transpiles first) until it accepts connections.
    pub fn start(component: &str) -> Self {
        let bin = node_modules().join(".bin/jco");
        // A free port: bind, read it, let go (jco takes a port number, not a listener).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            // Its own process group: jco serves from a child Node process, stopped with it.
            .process_group(0)
            // The Node process jco starts takes its V8 flags from here: CPython needs this one.
            .env("JCO_RUN_ARGS", EXTENDED_CONST)
            .args([
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                component,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("jco serve starts");
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "jco serve did not listen on {addr}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self { child, addr }
    }
}

impl Drop for JcoServed {
    fn drop(&mut self) {
        if let Ok(group) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative pid signals the process group jco leads.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
