//! The cost of one call that passes a short string and returns one (`calc.describe("fig")`):
//! (a) the host calling `pricing` directly, (b) `cart` calling `pricing` through a runtime link,
//! (c) the same in the statically composed component, (d) over loopback HTTP between two
//! `wasmhub serve` processes. Rounds are interleaved; each figure is the median.
//!
//! `graph-calls chain ...` measures the WASI 0.3 chain instead (see `chain.rs`).
//!
//! Usage: `graph-calls [chain] GUESTS_DIR WASMHUB_BIN [ROUNDS]`.

mod chain;
mod http;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use wasmhub_app::{App, Budget, GrantSite, Grants};
use wasmhub_core::{EngineKind, Metering, new_engine};
use wasmhub_host::{Graph, MeteredStore, cli_linker};
use wasmtime::Engine;
use wasmtime::component::{Component, ComponentExportIndex, Val};

/// Calls per timed sample in process (each sample is one guest loop or host loop).
const CALLS: u32 = 200_000;
/// Calls per sample over HTTP.
const HTTP_CALLS: u32 = 2_000;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A `pricing` instance and the index of its `calc.describe` export.
async fn describe(
    engine: &Engine,
    pricing: &Component,
) -> Result<(
    MeteredStore,
    wasmtime::component::Instance,
    ComponentExportIndex,
)> {
    let grants = Grants::none(GrantSite::Flags);
    let mut m = MeteredStore::new(
        engine,
        &grants,
        &Budget::default(),
        wasmhub_host::Lane::alone(),
    )?;
    let instance = cli_linker(engine)?
        .instantiate_async(&mut m.store, pricing)
        .await?;
    let iface = pricing
        .get_export_index(None, "acme:pricing/calc@0.1.0")
        .context("pricing exports calc")?;
    let idx = pricing
        .get_export_index(Some(&iface), "describe")
        .context("calc has describe")?;
    Ok((m, instance, idx))
}

/// (a) ns per direct host call of `describe` on one `pricing` instance.
async fn direct(engine: &Engine, pricing: &Component) -> Result<f64> {
    let (mut m, instance, idx) = describe(engine, pricing).await?;
    let f = instance.get_func(&mut m.store, idx).context("describe")?;
    let args = [Val::String("fig".into())];
    let mut out = [Val::Bool(false)];
    let start = Instant::now();
    for _ in 0..CALLS {
        f.call_async(&mut m.store, &args, &mut out).await?;
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(CALLS);
    anyhow::ensure!(
        out[0] == Val::String("fig: 80 cents".into()),
        "{:?}",
        out[0]
    );
    Ok(ns)
}

/// (a') the same call with Wasmtime's typed API (types known at compile time): the floor for
/// a host-mediated call, which a link (types known only at run time) cannot use.
async fn direct_typed(engine: &Engine, pricing: &Component) -> Result<f64> {
    let (mut m, instance, idx) = describe(engine, pricing).await?;
    let f = instance.get_typed_func::<(&str,), (String,)>(&mut m.store, idx)?;
    let mut last = String::new();
    let start = Instant::now();
    for _ in 0..CALLS {
        (last,) = f.call_async(&mut m.store, ("fig",)).await?;
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(CALLS);
    anyhow::ensure!(last == "fig: 80 cents", "{last}");
    Ok(ns)
}

/// ns per call of `relay("fig", CALLS)`: the loop runs in `cart`, each turn one `describe`.
async fn relayed(
    engine: &Engine,
    cart: &Component,
    links: Option<(&Arc<Graph>, usize)>,
) -> Result<f64> {
    let grants = Grants::none(GrantSite::Flags);
    let timed = |n: u32| {
        let grants = &grants;
        async move {
            let call = format!("relay(\"fig\", {n})");
            let start = Instant::now();
            let done = wasmhub_host::invoke(
                engine,
                cart,
                grants,
                &Budget::default(),
                &call,
                links,
                &mut |_| {},
            )
            .await?;
            anyhow::ensure!(done.results[0] == Val::String("fig: 80 cents".into()));
            anyhow::Ok(start.elapsed())
        }
    };
    // The difference between a long loop and a single call leaves out instantiation.
    let one = timed(1).await?;
    let all = timed(CALLS + 1).await?;
    Ok(all.saturating_sub(one).as_nanos() as f64 / f64::from(CALLS))
}

fn shop_manifest(dir: &Path, guests: &Path) -> Result<PathBuf> {
    let path = dir.join("wasmhub.toml");
    let text = format!(
        "[app]\nname = \"bench\"\n\n[component.cart]\nsource = {:?}\n\n[component.cart.link]\n\
         \"acme:pricing/calc\" = \"pricing\"\n\n[component.pricing]\nsource = {:?}\n",
        guests.join("cart.wasm").display().to_string(),
        guests.join("pricing.wasm").display().to_string(),
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Chained calls per timed request in process, and over HTTP.
const CHAIN_CALLS: u32 = 5_000;
const CHAIN_HTTP_CALLS: u32 = 300;

/// The WASI 0.3 chain, in process against over HTTP, and two calls awaited at once.
fn chain_bench(guests: &Path, wasmhub: &Path, dir: &Path, rounds: usize) -> Result<()> {
    let chain = chain::Chain::start(wasmhub, guests, dir)?;
    let mut figures: [Vec<f64>; 5] = Default::default();
    for _ in 0..rounds {
        figures[0].push(chain.linked_per_call(CHAIN_CALLS)?);
        figures[1].push(chain.http_per_call(CHAIN_HTTP_CALLS)?);
        figures[2].push(chain.loaded_per_call(true, 100)?);
        figures[3].push(chain.loaded_per_call(false, 10)?);
        figures[4].push(chain.pair_ms(100)?);
    }
    let [linked, http, linked_loaded, http_loaded, pair] = figures.map(|mut v| median(&mut v));
    println!("WASI 0.3 chain front -> middle -> end, median of {rounds} rounds");
    println!(
        "| path | us per chained call, one request at a time | us per chained call, wrk -c8 |\n|---|---:|---:|"
    );
    println!(
        "| in process: one `wasmhub serve`, 0.3 async runtime links | {:.1} | {:.1} |",
        linked / 1e3,
        linked_loaded
    );
    println!(
        "| loopback HTTP: three `wasmhub serve` processes (relay -> relay -> hello) | {:.1} | {:.1} |",
        http / 1e3,
        http_loaded
    );
    println!(
        "\nHTTP / in process: {:.0}x one at a time, {:.0}x under load",
        http / linked,
        http_loaded / linked_loaded
    );
    println!(
        "a handler awaiting two 100 ms calls down the chain at once: {pair:.0} ms (one after the other: 200 ms)"
    );
    Ok(())
}

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().collect();
    let chain_mode = args.get(1).is_some_and(|a| a == "chain");
    if chain_mode {
        args.remove(1);
    }
    let usage = "usage: graph-calls [chain] GUESTS_DIR WASMHUB_BIN [ROUNDS]";
    let guests = std::path::absolute(args.get(1).context(usage)?)?;
    let wasmhub = PathBuf::from(args.get(2).context(usage)?);
    let rounds: usize = args.get(3).map_or(Ok(5), |r| r.parse())?;
    let engine = new_engine(EngineKind::OneShot(Metering::default()))?;
    let tmp = std::env::temp_dir().join(format!("wasmhub-bench-graph-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    if chain_mode {
        let done = chain_bench(&guests, &wasmhub, &tmp, rounds);
        let _ = std::fs::remove_dir_all(&tmp);
        return done;
    }
    let app = App::from_manifest(&shop_manifest(&tmp, &guests)?)?;
    let graph = Graph::build(
        &engine,
        &app,
        &[0],
        &mut |c| Ok(Component::from_file(&engine, &c.source)?),
        &|c| c.budget,
    )?;
    let cart = graph.component(0).context("cart")?.clone();
    let pricing = graph.component(1).context("pricing")?.clone();
    let parts: Vec<wasmhub_compose::Part> = ["cart", "pricing"]
        .iter()
        .map(|n| {
            Ok(wasmhub_compose::Part {
                name: n.to_string(),
                bytes: std::fs::read(guests.join(format!("{n}.wasm")))?,
            })
        })
        .collect::<Result<_>>()?;
    let composed = Component::new(&engine, wasmhub_compose::plug(&parts)?)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if std::env::var_os("GRAPH_CALLS_PROFILE").is_some() {
        // Only the runtime link, for `perf record`.
        for _ in 0..rounds {
            let ns = rt.block_on(relayed(&engine, &cart, Some((&graph, 0))))?;
            println!("(b) {ns:.0} ns/call");
        }
        return Ok(());
    }
    let hop = http::Hop::start(&wasmhub, &guests)?;

    let mut figures: [Vec<f64>; 5] = Default::default();
    for _ in 0..rounds {
        rt.block_on(async {
            figures[0].push(direct(&engine, &pricing).await?);
            figures[1].push(relayed(&engine, &cart, Some((&graph, 0))).await?);
            figures[2].push(relayed(&engine, &composed, None).await?);
            figures[4].push(direct_typed(&engine, &pricing).await?);
            anyhow::Ok(())
        })?;
        figures[3].push(hop.per_call(HTTP_CALLS)?);
    }
    let [a, b, c, d, typed] = figures.map(|mut v| median(&mut v));
    println!("graph calls: describe(\"fig\") -> \"fig: 80 cents\", median of {rounds} rounds");
    println!("{:<44} {:>12}", "path", "ns/call");
    println!("{:<44} {:>12.0}", "(a) host -> pricing, direct", a);
    println!(
        "{:<44} {:>12.0}",
        "(a') host -> pricing, direct, typed API", typed
    );
    println!("{:<44} {:>12.0}", "(b) cart -> pricing, runtime link", b);
    println!("{:<44} {:>12.0}", "(c) cart -> pricing, composed", c);
    println!(
        "{:<44} {:>12.0}",
        "(d) over loopback HTTP, two serve processes", d
    );
    println!();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "(b)/(c) = {:.2}x   (target <= 2x: {})",
        b / c,
        verdict(b <= 2.0 * c)
    );
    println!(
        "(b)     = {:.0} ns (target <= 1000 ns: {})",
        b,
        verdict(b <= 1000.0)
    );
    println!(
        "(d)/(b) = {:.0}x   (target >= 100x: {})",
        d / b,
        verdict(d >= 100.0 * b)
    );
    println!(
        "(b)/(a) = {:.2}x   (the link's cost over a direct host call)",
        b / a
    );
    drop(hop);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
