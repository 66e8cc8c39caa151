//! `wasmhub`: run, invoke and inspect WebAssembly components.

mod budget;
mod cli;
mod commands;
mod common;
mod dev;
mod graph;
mod host;
mod logwriter;
mod nats;
mod oci;
mod report;
mod stores;
mod worker;

use clap::Parser;

fn main() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // Errors (a guest's trap is one) would otherwise capture a native backtrace each
        // time RUST_BACKTRACE is set: tens of microseconds per failed or finished request,
        // never shown (wasm backtraces are separate). Panics keep RUST_BACKTRACE.
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    // One TLS provider for the process (registries and guests' outgoing HTTPS).
    wasmhub_oci::install_crypto();
    let cli = cli::Cli::parse();
    if !cli.serves() {
        // A one-shot verb piped into `head` ends quietly when the reader goes away, as Unix
        // tools do, instead of panicking on a failed print. (`serve` keeps SIGPIPE ignored.)
        // SAFETY: no other thread exists yet; SIG_DFL is a valid disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    // WASMHUB_LOG overrides; otherwise `serve` logs at info and one-shot verbs stay silent,
    // so their start-up stays lean.
    if let Some(filter) = std::env::var("WASMHUB_LOG")
        .ok()
        .or_else(|| cli.default_log().map(String::from))
    {
        let fmt =
            tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(filter));
        if cli.is_worker() {
            fmt.with_writer(std::io::stderr).init();
        } else {
            fmt.with_writer(logwriter::install()).init();
        }
    }
    let result = if cli.is_worker() {
        // It locks down single-threaded, after compiling what the cache does not hold.
        wasmhub_core::compile_serially();
        // A worker's stderr is its server's log: what it logs there names its sandbox
        // (`<server pid>-<tenant>`), so a line says which process wrote it.
        let sandbox = std::env::var(wasmhub_http::WORKER_SANDBOX_ENV).unwrap_or_default();
        let _worker = tracing::info_span!("worker", sandbox = %sandbox).entered();
        cli.execute()
    } else {
        cli.execute()
    };
    // Lines logged so far go out before the error that follows them.
    logwriter::flush();
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            report::print_error(&err);
            2
        }
    };
    std::process::exit(code);
}
