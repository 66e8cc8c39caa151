//! A fresh store per instance: what an instance of a served component is made from (its
//! [`Recipe`]) and the one place its store is set up.

use std::sync::Arc;

use wasmhub_host::{Graph, LinkCtx, Outbound};
use wasmtime::{Engine, Store};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::give_way::Lanes;
use crate::guest_log::{GuestLog, RequestId};
use crate::state::ServeState;

/// Everything an instance of one served component is made from, shared by its requests.
pub struct Recipe {
    /// The component's name.
    pub name: Arc<str>,
    /// What each instance may touch.
    pub grants: wasmhub_app::Grants,
    /// How much each instance may use (its deadline is applied around the request).
    pub budget: wasmhub_app::Budget,
    /// The app's link graph, when this component has links (each request starts a session).
    pub links: Option<Arc<Graph>>,
    /// Outbound allow-list, shared by its instances.
    pub outbound: Arc<[wasmhub_app::OutboundRule]>,
    /// The host's instances in flight, long and short (shared by every component).
    pub lanes: Arc<Lanes>,
}

/// A fresh store for one instance of `recipe`, its guest output logged under request `id`.
pub fn new_store(
    engine: &Engine,
    recipe: &Recipe,
    id: &RequestId,
) -> anyhow::Result<(Store<ServeState>, wasmhub_core::Meter)> {
    let mut wasi = wasmhub_caps::wasi_builder(&recipe.grants)?;
    let log = |stream| GuestLog {
        request_id: id.clone(),
        component: recipe.name.clone(),
        stream,
    };
    wasi.stdout(log("stdout")).stderr(log("stderr"));
    let state = ServeState {
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        table: wasmtime::component::ResourceTable::new(),
        hooks: Outbound {
            rules: recipe.outbound.clone(),
            component: recipe.name.clone(),
        },
        memory: wasmhub_core::MemoryMeter::new(recipe.budget.memory),
        links: recipe
            .links
            .as_ref()
            .map_or_else(LinkCtx::default, LinkCtx::root),
        request: None,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.memory);
    // Yield to the runtime at every epoch tick so a busy guest never holds a worker thread,
    // and give way to shorter requests once it has run long; the request's deadline is
    // enforced by the timeouts around it.
    crate::give_way::install(&mut store, &recipe.lanes);
    // Fuel and memory from the budget; its deadline is the timeout around the request.
    let budget = wasmhub_app::Budget {
        deadline: None,
        ..recipe.budget
    };
    let meter = wasmhub_core::Meter::install(&mut store, &budget);
    Ok((store, meter))
}
