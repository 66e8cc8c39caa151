//! Per-instance host state: the guest's WASI and WASI HTTP contexts, resource table, memory meter.

use std::sync::Arc;

use anyhow::Result;
use wasmhub_app::{Budget, Grants};
use wasmhub_core::{Exceeded, MemoryMeter, Meter, Usage};
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::Outbound;
use crate::graph::LinkCtx;
use crate::pace::Lane;

/// What each `Store` carries for one instance.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Outbound,
    table: ResourceTable,
    memory: MemoryMeter,
    ungranted: crate::Ungranted,
    state: wasmhub_state::StateCtx,
    /// The instance's runtime links to other components, when it has any.
    pub links: LinkCtx,
}

impl wasmhub_state::HasState for HostState {
    fn state(&mut self) -> wasmhub_state::StateView<'_> {
        wasmhub_state::StateView {
            ctx: &mut self.state,
            table: &mut self.table,
        }
    }
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

impl crate::HasUngranted for HostState {
    fn ungranted(&self) -> &crate::Ungranted {
        &self.ungranted
    }
}

/// Store data that carries the store's memory meter (its `ResourceLimiter`).
pub trait MeteredState: Send + 'static {
    /// The store's memory meter.
    fn memory(&mut self) -> &mut MemoryMeter;
}

impl MeteredState for HostState {
    fn memory(&mut self) -> &mut MemoryMeter {
        &mut self.memory
    }
}

/// The one way wasmhub makes a store, for `serve`, `run`, `invoke` and every link target:
/// `budget`'s memory cap and fuel, and at each epoch tick its deadline, a yield to the
/// runtime and giving way in `lane` (see [`crate::pace`]). The epoch ticks at the engine's
/// configured period; nothing here changes that rate.
pub fn new_store<T: MeteredState>(
    engine: &Engine,
    state: T,
    budget: &Budget,
    lane: Lane,
) -> (Store<T>, Meter) {
    let mut store = Store::new(engine, state);
    *store.data_mut().memory() = MemoryMeter::new(budget.memory);
    store.limiter(|s| s.memory());
    if budget.deadline.is_some() {
        wasmhub_core::ensure_ticking(engine);
    }
    let meter = Meter::install(&mut store, budget);
    crate::pace::install(&mut store, meter.ends_at(), lane);
    (store, meter)
}

/// A store with a budget installed (its deadline ticks on the engine's shared ticker).
pub struct MeteredStore {
    /// The store.
    pub store: Store<HostState>,
    meter: Meter,
    who: String,
    lane: Lane,
}

impl MeteredStore {
    /// A store for one instance of a component with `grants`, held to `budget`, running in
    /// `lane` (its request's, or [`Lane::alone`] for a one-shot run); opens its stores, its
    /// directories and reads its configuration (see [`MeteredStore::with_state`] to do
    /// that once).
    pub fn new(engine: &Engine, grants: &Grants, budget: &Budget, lane: Lane) -> Result<Self> {
        let state = wasmhub_state::ComponentState::of(grants, budget.kv_ops)?;
        let preopens = wasmhub_caps::Preopens::open(grants)?;
        Self::with_state(engine, grants, budget, lane, &state, &preopens)
    }

    /// As [`MeteredStore::new`], with the component's state made and its directories
    /// opened already.
    pub fn with_state(
        engine: &Engine,
        grants: &Grants,
        budget: &Budget,
        lane: Lane,
        component: &Arc<wasmhub_state::ComponentState>,
        preopens: &wasmhub_caps::Preopens,
    ) -> Result<Self> {
        let ungranted = crate::Ungranted::of(grants);
        let denials = ungranted.denials().clone();
        let mut wasi = wasmhub_caps::wasi_builder_without_dirs(grants, denials.clone()).build();
        preopens.install(&mut wasi);
        let state = HostState {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: Outbound::new(
                grants.outbound.iter().map(|g| g.value.clone()).collect(),
                denials,
            ),
            table: ResourceTable::new(),
            memory: MemoryMeter::default(),
            ungranted,
            state: component.instance(),
            links: LinkCtx::default(),
        };
        let (store, meter) = new_store(engine, state, budget, lane.clone());
        Ok(Self {
            store,
            meter,
            who: grants.site.subject(),
            lane,
        })
    }

    /// The lane its ticks count in (its link targets share it).
    pub fn lane(&self) -> &Lane {
        &self.lane
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use wasmhub_app::GrantSite;
    use wasmhub_core::{EngineKind, Metering, SERVE_TICK, new_engine};
    use wasmtime::{Instance, Module, UpdateDeadline};

    use super::*;

    /// Epoch ticks a spinning store sees in about a second, and the seconds it took.
    async fn ticks_in_a_second(engine: &Engine) -> (u64, f64) {
        let module =
            Module::new(engine, r#"(module (func (export "spin") (loop (br 0))))"#).unwrap();
        let ticks = Arc::new(AtomicU64::new(0));
        let seen = ticks.clone();
        let mut store = Store::new(engine, ());
        let start = Instant::now();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
            if start.elapsed() >= Duration::from_secs(1) {
                return Err(wasmtime::Error::msg("enough"));
            }
            Ok(UpdateDeadline::Continue(1))
        });
        let instance = Instance::new_async(&mut store, &module, &[]).await.unwrap();
        let spin = instance
            .get_typed_func::<(), ()>(&mut store, "spin")
            .unwrap();
        assert!(spin.call_async(&mut store, ()).await.is_err());
        (ticks.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_linked_deadline_leaves_the_engine_s_tick_rate_as_configured() {
        let engine = new_engine(EngineKind::Serve {
            max_instances: 4,
            metering: Metering {
                epochs: true,
                ..Metering::default()
            },
        })
        .unwrap();
        // As `serve` starts its ticker, then makes a link target's store with a deadline.
        wasmhub_core::ensure_ticking(&engine);
        let budget = Budget {
            deadline: Some(Duration::from_secs(60)),
            ..Budget::default()
        };
        let grants = Grants::none(GrantSite::Flags);
        let _target = MeteredStore::new(&engine, &grants, &budget, Lane::alone()).unwrap();
        assert_eq!(wasmhub_core::tick_period(&engine), SERVE_TICK);
        // A busy machine only delays ticks: more than one per period means a second ticker.
        let (ticks, secs) = ticks_in_a_second(&engine).await;
        let most = secs / SERVE_TICK.as_secs_f64();
        assert!(
            (ticks as f64) < most * 1.5 + 10.0,
            "{ticks} ticks in {secs:.2} s: faster than one per {SERVE_TICK:?}"
        );
    }
}
