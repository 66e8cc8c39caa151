//! `run`: execute a `wasi:cli/run` command component.

use anyhow::Result;
use wasmhub_app::Budget;
use wasmhub_caps::Grants;
use wasmhub_core::Usage;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p2::bindings::CommandPre;

use crate::{MeteredStore, cli_linker, exported_funcs};

/// Why a component cannot be run as a command.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// It does not export `wasi:cli/run`.
    #[error(
        "the component is not a command: it does not export wasi:cli/run (0.2.x or 0.3.x); {}",
        if .exports.is_empty() { "it exports no functions either".to_string() }
        else { format!("call one of its functions with `wasmhub invoke COMPONENT 'NAME(ARGS)'`:\n  {}", .exports.join("\n  ")) }
    )]
    NotACommand {
        /// Its exported functions, described.
        exports: Vec<String>,
    },
}

/// Runs the command held to `budget`; returns its exit status (0 success, 1 failure, or
/// the guest's code) and what it used.
pub async fn run_command(
    engine: &Engine,
    component: &Component,
    grants: &Grants,
    budget: &Budget,
) -> Result<(i32, Usage)> {
    let ty = component.component_type();
    let exports_run = |version: &str| {
        ty.exports(engine)
            .any(|(name, _)| name.starts_with(&format!("wasi:cli/run@{version}.")))
    };
    if exports_run("0.3") {
        return run_wasi3(engine, component, grants, budget).await;
    }
    if !exports_run("0.2") {
        let exports = exported_funcs(engine, component)
            .iter()
            .map(|f| f.describe())
            .collect();
        return Err(RunError::NotACommand { exports }.into());
    }
    crate::admit(engine, component, grants, &[])?;
    let linker = cli_linker(engine)?;
    let pre = CommandPre::new(linker.instantiate_pre(component)?)?;
    let mut m = MeteredStore::new(engine, grants, budget, crate::Lane::alone())?;
    let store = &mut m.store;
    let result = async {
        let command = pre.instantiate_async(&mut *store).await?;
        command.wasi_cli_run().call_run(&mut *store).await
    }
    .await;
    let code = exit_code(&m, result.map_err(anyhow::Error::from))?;
    Ok((code, m.usage()))
}

/// The exit status of a finished `run` (0, 1, or the guest's own code); a trap or a budget
/// the guest ran past is an error.
fn exit_code(m: &MeteredStore, result: Result<Result<(), ()>>) -> Result<i32> {
    match result {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None if e.is::<wasmhub_core::Exceeded>() => Err(e),
            None => {
                let e = m.explain(e);
                Err(if e.is::<wasmhub_core::Exceeded>() {
                    e
                } else {
                    e.context("the guest trapped")
                })
            }
        },
    }
}

/// Runs a `wasi:cli/run@0.3.x` command: its `run` is awaited on the store's event loop,
/// under a wall-clock deadline that also covers time the guest spends waiting.
async fn run_wasi3(
    engine: &Engine,
    component: &Component,
    grants: &Grants,
    budget: &Budget,
) -> Result<(i32, Usage)> {
    crate::admit(engine, component, grants, &[])?;
    let mut linker = cli_linker(engine)?;
    crate::add_wasi3(&mut linker)?;
    let mut m = MeteredStore::new(engine, grants, budget, crate::Lane::alone())?;
    let started = std::time::Instant::now();
    let result = async {
        let instance = linker.instantiate_async(&mut m.store, component).await?;
        let command = wasmtime_wasi::p3::bindings::Command::new(&mut m.store, &instance)?;
        let run = m
            .store
            .run_concurrent(async |a| command.wasi_cli_run().call_run(a).await);
        match budget.deadline {
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(r) => Ok(r??),
                Err(_) => Err(anyhow::Error::from(wasmhub_core::Exceeded {
                    who: grants.site.subject(),
                    exceeded: wasmhub_core::BudgetExceeded::Deadline {
                        limit,
                        after: started.elapsed(),
                    },
                })),
            },
            None => Ok(run.await??),
        }
    }
    .await;
    let code = exit_code(&m, result)?;
    Ok((code, m.usage()))
}
