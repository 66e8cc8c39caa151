//! Per-instance host state: the guest's WASI and WASI HTTP contexts, resource table, memory meter.

use anyhow::Result;
use wasmhub_app::{Budget, Grants};
use wasmhub_core::{Exceeded, MemoryMeter, Meter, Usage};
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::Outbound;
use crate::graph::LinkCtx;

/// What each `Store` carries for one instance.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Outbound,
    table: ResourceTable,
    memory: MemoryMeter,
    ungranted: crate::Ungranted,
    /// The instance's runtime links to other components, when it has any.
    pub links: LinkCtx,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl AsMut<LinkCtx> for HostState {
    fn as_mut(&mut self) -> &mut LinkCtx {
        &mut self.links
    }
}

/// The outgoing-HTTP hook for a component with `grants`.
fn outbound_for(grants: &Grants) -> Outbound {
    Outbound::new(
        grants.outbound.iter().map(|g| g.value.clone()).collect(),
        grants,
    )
}

impl crate::HasUngranted for HostState {
    fn ungranted(&self) -> &crate::Ungranted {
        &self.ungranted
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
    /// A store for one instance of a component with `grants`, held to `budget`.
    pub fn new(engine: &Engine, grants: &Grants, budget: &Budget) -> Result<Self> {
        let state = HostState {
            wasi: wasmhub_caps::wasi_builder(grants)?.build(),
            http: WasiHttpCtx::new(),
            hooks: outbound_for(grants),
            table: ResourceTable::new(),
            memory: MemoryMeter::new(budget.memory),
            ungranted: crate::Ungranted::of(grants),
            links: LinkCtx::default(),
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.memory);
        // Where the engine checks epochs, a store without a deadline yields at each tick (a
        // linked instance in `serve` then never holds a worker thread); a deadline replaces it.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        if budget.deadline.is_some() {
            wasmhub_core::ensure_ticking(engine, wasmhub_core::ONE_SHOT_TICK);
        }
        let meter = Meter::install(&mut store, budget);
        Ok(Self {
            store,
            meter,
            who: grants.site.subject(),
        })
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
