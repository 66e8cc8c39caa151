//! The command line: global flags and one subcommand per verb.

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::commands::{
    AddCommand, BuildCommand, CheckCommand, ClusterCommand, ComposeCommand, DeployCommand,
    DevCommand, HostCommand, InspectCommand, InvokeCommand, KvCommand, NewCommand, PullCommand,
    PushCommand, RunCommand, ServeCommand, StoreCommand,
};

/// Run WebAssembly components: commands, typed exports and wasi:http apps, with nothing granted by default.
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
    Serve(ServeCommand),
    Check(CheckCommand),
    Build(BuildCommand),
    New(NewCommand),
    Dev(DevCommand),
    Add(AddCommand),
    Compose(ComposeCommand),
    Push(PushCommand),
    Pull(PullCommand),
    Store(StoreCommand),
    Kv(KvCommand),
    Deploy(DeployCommand),
    Host(HostCommand),
    Cluster(ClusterCommand),
    /// One tenant's worker process, started by `serve` (isolation = "process").
    #[command(name = "__worker", hide = true)]
    Worker(crate::worker::WorkerCommand),
}

impl Cli {
    /// The log filter a verb uses when WASMHUB_LOG is unset.
    pub fn default_log(&self) -> Option<&'static str> {
        matches!(
            self.command,
            Command::Serve(_) | Command::Dev(_) | Command::Host(_) | Command::Worker(_)
        )
        .then_some("info")
    }

    /// Whether the verb is the long-running server (or one of its workers).
    pub fn serves(&self) -> bool {
        matches!(
            self.command,
            Command::Serve(_) | Command::Dev(_) | Command::Host(_) | Command::Worker(_)
        )
    }

    /// Whether this is a tenant's worker, which must stay single-threaded until its
    /// lock-down (so it logs straight to stderr, without the log writer thread).
    pub fn is_worker(&self) -> bool {
        matches!(self.command, Command::Worker(_))
    }

    /// Runs the chosen verb; returns the process exit code.
    pub fn execute(self) -> Result<i32> {
        match self.command {
            Command::Run(c) => c.execute(),
            Command::Invoke(c) => c.execute(),
            Command::Inspect(c) => c.execute(),
            Command::Serve(c) => c.execute(),
            Command::Check(c) => c.execute(),
            Command::Build(c) => c.execute(),
            Command::New(c) => c.execute(),
            Command::Dev(c) => c.execute(),
            Command::Add(c) => c.execute(),
            Command::Compose(c) => c.execute(),
            Command::Push(c) => c.execute(),
            Command::Pull(c) => c.execute(),
            Command::Store(c) => c.execute(),
            Command::Kv(c) => c.execute(),
            Command::Deploy(c) => c.execute(),
            Command::Host(c) => c.execute(),
            Command::Cluster(c) => c.execute(),
            Command::Worker(c) => c.execute(),
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
