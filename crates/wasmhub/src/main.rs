//! `wasmhub`: run, invoke and inspect WebAssembly components.

mod cli;
mod commands;
mod common;
mod report;

use clap::Parser;

fn main() {
    // Diagnostics only when asked for, e.g. WASMHUB_LOG=debug: start-up stays lean.
    if let Ok(filter) = std::env::var("WASMHUB_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .without_time()
            .init();
    }
    let cli = cli::Cli::parse();
    let code = match cli.execute() {
        Ok(code) => code,
        Err(err) => {
            report::print_error(&err);
            2
        }
    };
    std::process::exit(code);
}
