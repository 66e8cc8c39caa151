//! `wasmhub invoke`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use wasmhub_host::val_to_json;

use crate::budget::BudgetFlags;
use crate::common::{CacheFlags, GrantFlags, block_on};

/// Call an exported function with WAVE arguments and print its result.
///
/// CALL is NAME(ARGS) in WAVE syntax, e.g. 'greet("world")'. NAME is a root export
/// (`greet`), an interface function as `greeter.greet` or fully qualified
/// (`wasmhub:demo/greeter#greet`); a bare name also finds an interface function when
/// only one interface exports it. The result prints as WAVE (or JSON with --json);
/// a function without a result prints nothing. Nothing is granted by default.
#[derive(Parser)]
pub struct InvokeCommand {
    #[command(flatten)]
    grants: GrantFlags,
    #[command(flatten)]
    budget: BudgetFlags,
    #[command(flatten)]
    cache: CacheFlags,
    /// Print the result as JSON instead of WAVE.
    #[arg(long)]
    json: bool,
    /// The component (.wasm).
    component: PathBuf,
    /// The call, e.g. 'greet("world")'.
    call: String,
}

impl InvokeCommand {
    /// Calls the function and prints its result.
    pub fn execute(self) -> Result<i32> {
        let budget = self.budget.budget();
        self.budget.check_size(&self.component, &budget)?;
        let (engine, loaded) = self
            .cache
            .load(&self.component, self.budget.metering(&budget))?;
        let argv0 = self.component.display().to_string();
        let mut grants = self.grants.grants(vec![argv0]);
        self.budget.restrict(&budget, &mut grants);
        crate::common::warn_unused(&engine, &loaded.component, &grants);
        let done = block_on(wasmhub_host::invoke(
            &engine,
            &loaded.component,
            &grants,
            &budget,
            &self.call,
        ))??;
        for val in &done.results {
            if self.json {
                println!("{}", val_to_json(val));
            } else {
                println!("{}", val.to_wave()?);
            }
        }
        self.budget.print_report(&done.usage, &budget);
        Ok(0)
    }
}
