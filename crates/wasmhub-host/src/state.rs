//! Per-instance host state: the guest's WASI context, resource table and memory meter.

use wasmhub_app::Budget;
use wasmhub_core::{Exceeded, MemoryMeter, Meter, Usage};
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// What each `Store` carries for one instance.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryMeter,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A store with a budget installed (its deadline ticks on the engine's shared ticker).
pub struct MeteredStore {
    /// The store.
    pub store: Store<HostState>,
    meter: Meter,
    who: String,
}

impl MeteredStore {
    /// A store for one instance of the component `who` with `wasi`, held to `budget`.
    pub fn new(engine: &Engine, wasi: WasiCtx, budget: &Budget, who: String) -> Self {
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryMeter::new(budget.memory),
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.memory);
        if budget.deadline.is_some() {
            wasmhub_core::ensure_ticking(engine, wasmhub_core::ONE_SHOT_TICK);
        }
        let meter = Meter::install(&mut store, budget);
        Self { store, meter, who }
    }

    /// What the instance used so far.
    pub fn usage(&self) -> Usage {
        self.meter.usage(&self.store, &self.store.data().memory)
    }

    /// `err` as a budget error naming the component, when a budget caused it.
    pub fn explain(&self, err: anyhow::Error) -> anyhow::Error {
        match self.meter.exceeded(&err, &self.store.data().memory) {
            Some(exceeded) => Exceeded {
                who: self.who.clone(),
                exceeded,
            }
            .into(),
            None => err,
        }
    }
}
