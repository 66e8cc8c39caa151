//! `cargo xtask bench cluster`: builds wasmhub, the guests and `cluster-bench`
//! (bench/cluster-bench), which starts a 3-node NATS cluster, three `wasmhub host`
//! processes and haproxy with the cluster tests' own code and prints capacity with 1, 2
//! and 3 hosts, shared-KV latency on NATS against the embedded store, deploy convergence
//! and failed requests during a rolling deploy and a host kill.

use std::process::Command;

use crate::util::{self, Result};
use crate::{guests, setup};

/// Runs the benchmark; its tables go to stdout, its progress to stderr.
pub fn run() -> Result {
    setup::setup()?;
    setup::apt(&[("wrk", "wrk")])?;
    guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub"])?;
    util::cargo(&["build", "--quiet", "-p", "cluster-bench"])?;
    let target = util::target_dir();
    util::run(
        Command::new(target.join("debug/cluster-bench"))
            .arg(target.join("debug/wasmhub"))
            .arg(target.join("guests"))
            .arg(target.join("bench-cluster")),
    )
}
