//! The command line: global flags and one subcommand per verb.

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::commands::{InspectCommand, InvokeCommand, RunCommand};

/// Run WebAssembly components: commands, typed exports, with nothing granted by default.
#[derive(Parser)]
#[command(name = "wasmhub", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Run(RunCommand),
    Invoke(InvokeCommand),
    Inspect(InspectCommand),
}

impl Cli {
    /// Runs the chosen verb; returns the process exit code.
    pub fn execute(self) -> Result<i32> {
        match self.command {
            Command::Run(c) => c.execute(),
            Command::Invoke(c) => c.execute(),
            Command::Inspect(c) => c.execute(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
