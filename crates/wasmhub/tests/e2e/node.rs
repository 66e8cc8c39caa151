//! Components in Node: transpiled with jco (installed by `cargo xtask setup` into `tools/js`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::{Hub, Ran};

/// `tools/js/node_modules`, where setup installs jco and the WASI shims.
fn node_modules() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/js/node_modules");
    assert!(
        dir.join(".bin/jco").exists(),
        "jco is not installed in {}: run `cargo xtask setup` (or `cargo xtask test`)",
        dir.display()
    );
    dir
}

/// Transpiles `component` with `jco transpile` into the hub's scratch dir as module `name`,
/// then runs `script` (an ES module that imports `./NAME/NAME.js`) with Node.
pub fn run_in_node(hub: &Hub, component: &str, name: &str, script: &str) -> Ran {
    let modules = node_modules();
    let dir = hub.tmp.path().join("node");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(name);
    let jco = hub.output(
        Command::new(modules.join(".bin/jco"))
            .args(["transpile", component, "--quiet", "--name", name, "-o"])
            .arg(&out),
    );
    assert_eq!(
        jco.code, 0,
        "jco transpile failed: {}{}",
        jco.stdout, jco.stderr
    );
    // Bare imports of the WASI shims resolve from here, as from any Node project.
    let link = dir.join("node_modules");
    if !link.exists() {
        std::os::unix::fs::symlink(&modules, &link).unwrap();
    }
    let main = dir.join("main.mjs");
    std::fs::write(&main, script).unwrap();
    hub.output(Command::new("node").arg(&main))
}
