//! `wasmhub invoke`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use wasmhub_host::val_to_json;
use wasmtime::component::Val;

use crate::budget::BudgetFlags;
use wasmhub_core::EngineKind;

use crate::common::{CacheFlags, GrantFlags, StrictFlag, WasiFlag, block_on, load_app};

/// Call an exported function with WAVE arguments and print its result.
///
/// CALL is NAME(ARGS) in WAVE syntax, e.g. 'greet("world")'. NAME is a root export
/// (`greet`), an interface function as `greeter.greet` or fully qualified
/// (`wasmhub:demo/greeter#greet`); a bare name also finds an interface function when
/// only one interface exports it. The result prints as WAVE (or JSON with --json);
/// a function without a result prints nothing. Nothing is granted by default.
///
/// With an app manifest, `--component NAME` picks the component; it runs with the grants
/// and budget the manifest gives it (budget flags override), and its linked imports call
/// the other components in process.
#[derive(Parser)]
pub struct InvokeCommand {
    #[command(flatten)]
    grants: GrantFlags,
    #[command(flatten)]
    state: crate::common::StateFlags,
    #[command(flatten)]
    budget: BudgetFlags,
    #[command(flatten)]
    cache: CacheFlags,
    #[command(flatten)]
    wasi: WasiFlag,
    #[command(flatten)]
    strict: StrictFlag,
    /// Print the result as JSON instead of WAVE.
    #[arg(long)]
    json: bool,
    /// With a manifest: the component to call (default: its only component).
    #[arg(long = "component", value_name = "NAME")]
    name: Option<String>,
    /// The component (.wasm), or an app manifest (.toml).
    component: PathBuf,
    /// The call, e.g. 'greet("world")'.
    call: String,
}

impl InvokeCommand {
    /// Calls the function and prints its result.
    pub fn execute(mut self) -> Result<i32> {
        wasmhub_caps::report_denials_to(wasmhub_caps::DenialSink::Stderr);
        self.state.apply()?;
        if crate::graph::is_manifest(&self.component) {
            return self.execute_in_app();
        }
        if let Some(name) = &self.name {
            anyhow::bail!(
                "--component {name} picks a component of an app manifest, but {} is not a .toml manifest",
                self.component.display()
            );
        }
        let app_name = crate::oci::name(&self.component);
        self.component = crate::oci::local(&self.component)?;
        let budget = self.budget.budget();
        self.budget.check_size(&self.component, &budget)?;
        let mut metering = self.budget.metering([&budget]);
        metering.wasi3 = self.wasi.is_wasi3();
        let (engine, loaded) = self.cache.load(&self.component, metering)?;
        let argv0 = self.component.display().to_string();
        let mut grants = std::mem::take(&mut self.grants).grants(vec![argv0]);
        grants.app = app_name.unwrap_or_else(|| wasmhub_app::App::single_name(&self.component));
        self.strict.apply_to(&mut grants);
        self.budget.restrict(&budget, &mut grants);
        crate::common::warn_unused(&engine, &loaded.component, &grants);
        let done = block_on(wasmhub_host::invoke(
            &engine,
            &loaded.component,
            &grants,
            &budget,
            &self.call,
            None,
            &mut print_item,
        ))??;
        self.print(&done, &budget)
    }

    /// Calls a component of an app manifest, with its links.
    fn execute_in_app(mut self) -> Result<i32> {
        let mut app = load_app(&self.component, std::mem::take(&mut self.grants))?;
        self.strict.apply(&mut app);
        let i = crate::graph::pick(&app, self.name.as_deref(), &self.component)?;
        let flags = self.budget.budget();
        let budget_of = |c: &wasmhub_app::AppComponent| c.budget.overridden_by(&flags);
        let budgets: Vec<_> = app.components.iter().map(budget_of).collect();
        let mut metering = self.budget.metering(&budgets);
        metering.wasi3 = self.wasi.is_wasi3()
            || app
                .components
                .iter()
                .any(|c| c.wasi == wasmhub_app::WasiVersion::P3);
        let engine = self.cache.engine(EngineKind::OneShot(metering))?;
        let cache = self.cache.cache();
        let graph = crate::graph::build(&engine, cache.as_ref(), &app, &[i], &budget_of)?;
        let c = &app.components[i];
        let budget = &budgets[i];
        let component = graph.component(i).context("the component was not loaded")?;
        let mut grants = c.grants.clone();
        self.budget.restrict(budget, &mut grants);
        let done = block_on(wasmhub_host::invoke(
            &engine,
            component,
            &grants,
            budget,
            &self.call,
            Some((&graph, i)),
            &mut print_item,
        ))??;
        self.print(&done, budget)
    }

    fn print(&self, done: &wasmhub_host::Invocation, budget: &wasmhub_app::Budget) -> Result<i32> {
        for val in &done.results {
            if self.json {
                println!("{}", val_to_json(val));
            } else {
                println!("{}", val.to_wave()?);
            }
        }
        self.budget.print_report(&done.usage, budget);
        Ok(0)
    }
}

/// Shows a stream's batch or a future's value on stderr as it arrives (the result, whole,
/// goes to stdout at the end).
fn print_item(v: &Val) {
    match v.to_wave() {
        Ok(text) => eprintln!("received {text}"),
        Err(_) => eprintln!("received a value"),
    }
}
