//! `cargo xtask bench ...`: benchmarks that print ratios against baselines run alongside.

mod budget;
mod chaos;
mod cluster;
mod dev;
mod graph;
mod hostile;
mod http;
mod invoke;
mod isolation;
mod kv;
mod polyglot;
mod sample;
mod serve;
mod spin;
mod wasi3;

use crate::util::Result;

/// Dispatches `bench <name> [--with-peers]`.
pub fn bench(args: &[&str]) -> Result {
    let with_peers = args.contains(&"--with-peers");
    let names: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| !a.starts_with("--"))
        .collect();
    match names.as_slice() {
        ["invoke"] => invoke::run(with_peers),
        ["serve"] => serve::run(with_peers),
        ["budget"] => budget::run(),
        ["chaos"] => chaos::run(),
        ["cluster"] => cluster::run(),
        ["dev"] => dev::run(),
        ["graph"] => graph::run(),
        ["polyglot"] => polyglot::run(with_peers),
        ["wasi3"] => wasi3::run(with_peers),
        ["isolation"] => isolation::run(),
        ["kv"] => kv::run(),
        _ => Err(
            "usage: cargo xtask bench (invoke | serve | budget | graph | polyglot | wasi3 | isolation | chaos | kv | cluster | dev) [--with-peers]"
                .into(),
        ),
    }
}
