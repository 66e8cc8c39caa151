//! A fresh store per instance: what an instance of a served component is made from (its
//! [`Recipe`]) and the one place its store is set up.

use std::sync::Arc;

use wasmhub_host::{Graph, Lanes, LinkCtx, Outbound, Ungranted};
use wasmtime::{Engine, Store};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::guest_log::{GuestLog, RequestId};
use crate::state::ServeState;

/// Everything an instance of one served component is made from, shared by its requests.
pub struct Recipe {
    /// The component's name.
    pub name: Arc<str>,
    /// What each instance may touch.
    pub grants: wasmhub_app::Grants,
    /// Its granted directories, opened once for all its instances.
    pub preopens: wasmhub_caps::Preopens,
    /// How much each instance may use (its deadline is applied around the request).
    pub budget: wasmhub_app::Budget,
    /// The app's link graph, when this component has links (each request starts a session).
    pub links: Option<Arc<Graph>>,
    /// Outbound allow-list, shared by its instances.
    pub outbound: Arc<[wasmhub_app::OutboundRule]>,
    /// What it is not granted, and where its denied calls are reported.
    pub ungranted: Ungranted,
    /// Its key-value stores and configuration.
    pub state: Arc<wasmhub_state::ComponentState>,
    /// The host's instances in flight, long and short (shared by every component).
    pub lanes: Arc<Lanes>,
}

/// A fresh store for one instance of `recipe`, its guest output logged under request `id`.
pub fn new_store(
    engine: &Engine,
    recipe: &Recipe,
    id: &RequestId,
) -> anyhow::Result<(Store<ServeState>, wasmhub_core::Meter)> {
    let denials = recipe.ungranted.denials();
    let mut wasi = wasmhub_caps::wasi_builder_without_dirs(&recipe.grants, denials.clone());
    let log = |stream| GuestLog {
        request_id: id.clone(),
        component: recipe.name.clone(),
        stream,
    };
    wasi.stdout(log("stdout")).stderr(log("stderr"));
    // The request's place among those in flight, shared with its link targets.
    let lane = recipe.lanes.enter();
    let mut wasi = wasi.build();
    recipe.preopens.install(&mut wasi);
    let state = ServeState {
        wasi,
        http: WasiHttpCtx::new(),
        table: wasmtime::component::ResourceTable::new(),
        hooks: Outbound::new(recipe.outbound.clone(), denials.clone()),
        memory: wasmhub_core::MemoryMeter::default(),
        ungranted: recipe.ungranted.clone(),
        state: recipe.state.instance(),
        links: recipe
            .links
            .as_ref()
            .map_or_else(LinkCtx::default, |g| LinkCtx::root(g, lane.clone())),
        request: None,
    };
    // Fuel and memory from the budget; its deadline is the timeout around the request.
    let budget = wasmhub_app::Budget {
        deadline: None,
        ..recipe.budget
    };
    Ok(wasmhub_host::new_store(engine, state, &budget, lane))
}
