//! Installing what the build and tests need, only when it is missing.

use std::process::Command;

use crate::util::{self, Result};

/// Installs the `wasm32-wasip2` target for the guests.
pub fn setup() -> Result {
    let installed = util::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .ok_or("cannot run `rustup target list --installed`: is rustup on PATH?")?;
    if !installed.lines().any(|l| l.trim() == "wasm32-wasip2") {
        util::run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    Ok(())
}

/// Installs Debian packages whose `program` is missing (benchmarks only).
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
