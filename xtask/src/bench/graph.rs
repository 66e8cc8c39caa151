//! `cargo xtask bench graph`: a call through a runtime link against direct, composed and HTTP.

use crate::util::{self, Result};
use crate::{guests, setup};

/// Builds the graph guests, `wasmhub` and the benchmark, then runs it.
pub fn run() -> Result {
    setup::setup()?;
    guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub", "-p", "graph-calls"])?;
    let target = util::target_dir();
    util::run(
        std::process::Command::new(target.join("debug/graph-calls"))
            .arg(target.join("guests"))
            .arg(target.join("debug/wasmhub")),
    )
}
