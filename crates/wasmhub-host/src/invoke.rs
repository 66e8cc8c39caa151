//! `invoke`: call one exported function with WAVE arguments.

use anyhow::{Context, Result};
use wasmhub_app::Budget;
use wasmhub_caps::Grants;
use wasmhub_core::{BudgetExceeded, Exceeded, Usage};
use wasmtime::Engine;
use wasmtime::component::wasm_wave::parser::ParserError;
use wasmtime::component::wasm_wave::untyped::UntypedFuncCall;
use wasmtime::component::{Component, Val};

use std::sync::Arc;

use crate::{
    Driver, ExportedFunc, FuncLookupError, Graph, LinkCtx, MeteredStore, cli_linker,
    exported_funcs, find_func,
};

/// A finished call: which function ran, what it returned and what it used.
pub struct Invocation {
    /// The function that was called.
    pub func: ExportedFunc,
    /// Its results (zero or one value).
    pub results: Vec<Val>,
    /// Fuel, time and memory the call used.
    pub usage: Usage,
}

/// Why a call could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The call text is not `name(args)`.
    #[error(
        "`{0}` is not a call: write NAME(ARGS) with WAVE arguments, for example 'greet(\"world\")' \
         (the parentheses are required, even with no arguments)"
    )]
    Syntax(String),
    /// The name does not pick one export.
    #[error(transparent)]
    Lookup(#[from] FuncLookupError),
    /// The arguments do not fit the function's parameters.
    #[error("wrong arguments for {func}: its signature is {signature}")]
    Args {
        /// The function's qualified name.
        func: String,
        /// Its signature.
        signature: String,
        /// What WAVE said.
        #[source]
        source: anyhow::Error,
    },
}

/// The export `call` (`name(args)`, args in WAVE) names and its arguments, checked against
/// the export's parameter types.
pub fn parse_call(
    engine: &Engine,
    component: &Component,
    call: &str,
) -> Result<(ExportedFunc, Vec<Val>), InvokeError> {
    let (name, open) = split_call(call)?;
    let funcs = exported_funcs(engine, component);
    let func = find_func(&funcs, name)?.clone();
    let params = parse_args(&func, call, open)?;
    Ok((func, params))
}

/// Splits `name(args)` into the name and the offset where the arguments start.
fn split_call(call: &str) -> Result<(&str, usize), InvokeError> {
    let open = call
        .find('(')
        .ok_or_else(|| InvokeError::Syntax(call.trim().to_owned()))?;
    let name = call[..open].trim();
    if name.is_empty() || !call.trim_end().ends_with(')') {
        return Err(InvokeError::Syntax(call.trim().to_owned()));
    }
    Ok((name, open))
}

/// Parses the WAVE arguments of `call` (starting at byte `open`) against `func`'s parameters.
fn parse_args(func: &ExportedFunc, call: &str, open: usize) -> Result<Vec<Val>, InvokeError> {
    let types: Vec<_> = func.ty.params().map(|(_, t)| t).collect();
    // WAVE names are plain labels and ours may be qualified: WAVE parses `f(args)`, and its
    // error spans are shifted back onto the text the user typed.
    let source = format!("f{}", &call[open..]);
    let parsed =
        UntypedFuncCall::parse(&source).and_then(|c| c.to_wasm_params::<Val>(types.iter()));
    parsed.map_err(|e| InvokeError::Args {
        func: func.qualified(),
        signature: crate::func_signature(&func.ty),
        source: anyhow::anyhow!(describe_wave_error(&e, call, open.saturating_sub(1))),
    })
}

/// WAVE's message with the offending text quoted instead of a byte range.
fn describe_wave_error(e: &ParserError, call: &str, shift: usize) -> String {
    let message = e.to_string();
    let message = message
        .rsplit_once(" at ")
        .map_or(message.as_str(), |(m, _)| m);
    let span = e.span();
    let span = span.start + shift..span.end + shift;
    match call.get(span.clone()).filter(|s| !s.is_empty()) {
        Some(text) => format!("{message}: `{text}` (column {})", span.start + 1),
        None => format!("{message} (column {})", span.start + 1),
    }
}

/// Instantiates `component` with `grants` and calls the function named in `call`, held to
/// `budget`; with `links` (the app's graph and the component's index in it) its linked
/// imports call the other components in process.
pub async fn invoke(
    engine: &Engine,
    component: &Component,
    grants: &Grants,
    budget: &Budget,
    call: &str,
    links: Option<(&Arc<Graph>, usize)>,
    on_item: &mut (dyn FnMut(&Val) + Send),
) -> Result<Invocation> {
    let (_, open) = split_call(call)?;
    let who = grants.site.subject();
    let over = |exceeded| Exceeded {
        who: who.clone(),
        exceeded,
    };
    let input = call.trim_end().len().saturating_sub(open + 2) as u64;
    if let Some(limit) = budget.input.filter(|l| input > *l) {
        return Err(over(BudgetExceeded::Input { limit, size: input }).into());
    }
    let (func, params) = parse_call(engine, component, call)?;
    let linked = links.map_or_else(Vec::new, |(g, i)| g.linked_imports(i));
    crate::admit(engine, component, grants, &linked)?;

    let mut linker = cli_linker(engine)?;
    if crate::uses_wasi3(engine, component) {
        crate::add_wasi3(&mut linker)?;
    }
    let mut m = MeteredStore::new(engine, grants, budget, crate::Lane::alone())?;
    if let Some((graph, i)) = links.filter(|(g, i)| g.has_links(*i)) {
        graph.define(i, &mut linker)?;
        m.store.data_mut().links = LinkCtx::root(graph, m.lane().clone());
    }
    // Polls the link targets' WASI 0.3 loops beside this call.
    let driver = m.store.data().links.driver();
    let store = &mut m.store;
    let instance = match linker.instantiate_async(&mut *store, component).await {
        Ok(i) => i,
        Err(e) => {
            return Err(explained(
                &m,
                e.into(),
                "failed to instantiate the component",
            ));
        }
    };
    let f = instance
        .get_func(&mut *store, func.index)
        .with_context(|| format!("export {} is not a function", func.qualified()))?;
    let context = format!("the guest trapped in {}", func.qualified());
    let results = if func.ty.async_() {
        // An `async func`: awaited on the store's event loop, under a wall-clock deadline
        // that also covers time the guest spends waiting.
        let types: Vec<_> = func.ty.results().collect();
        let started = std::time::Instant::now();
        let run = Driver::run(
            driver.as_ref(),
            store.run_concurrent(async |a| {
                crate::concurrent::call(a, f, &params, &types, on_item).await
            }),
        );
        let outcome = match budget.deadline {
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(over(BudgetExceeded::Deadline {
                        limit,
                        after: started.elapsed(),
                    })
                    .into());
                }
            },
            None => run.await,
        };
        match outcome {
            Ok(Ok(results)) => results,
            Ok(Err(e)) => return Err(explained(&m, e, &context)),
            Err(e) => return Err(explained(&m, e.into(), &context)),
        }
    } else {
        let mut results = vec![Val::Bool(false); func.ty.results().len()];
        let call = f.call_async(&mut *store, &params, &mut results);
        if let Err(e) = Driver::run(driver.as_ref(), call).await {
            return Err(explained(&m, e.into(), &context));
        }
        results
    };
    let output: u64 = results
        .iter()
        .map(|v| v.to_wave().map_or(0, |w| w.len() as u64))
        .sum();
    if let Some(limit) = budget.output.filter(|l| output > *l) {
        return Err(over(BudgetExceeded::Output {
            limit,
            size: output,
        })
        .into());
    }
    let usage = m.usage();
    Ok(Invocation {
        func,
        results,
        usage,
    })
}

/// A budget error as itself (also one a linked component ran into); anything else with `context`.
fn explained(m: &MeteredStore, e: anyhow::Error, context: &str) -> anyhow::Error {
    let e = m.explain(e);
    match e.downcast_ref::<Exceeded>() {
        Some(x) => x.clone().into(),
        None => e.context(context.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_calls() {
        assert_eq!(split_call(" greet(\"x\") ").unwrap(), ("greet", 6));
        assert_eq!(split_call("a:b/c#d()").unwrap(), ("a:b/c#d", 7));
        assert!(split_call("greet").is_err());
        assert!(split_call("(1)").is_err());
        assert!(split_call("greet(1").is_err());
    }
}
