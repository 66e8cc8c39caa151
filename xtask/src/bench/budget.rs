//! `cargo xtask bench budget`: metering overhead and deadline promptness, measured in process.

use crate::util::{self, Result};
use crate::{guests, setup};

/// Builds the `hog` guest and the in-process benchmark, then runs it.
pub fn run() -> Result {
    setup::setup()?;
    guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "budget-overhead"])?;
    let target = util::target_dir();
    util::run(
        std::process::Command::new(target.join("debug/budget-overhead"))
            .arg(target.join("guests/hog.wasm")),
    )
}
