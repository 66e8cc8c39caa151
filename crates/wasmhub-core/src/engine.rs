//! Engine configuration shared by every verb.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// What the engine will be used for; each kind is one fixed configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// One short-lived instance per process (`run`, `invoke`, `inspect`).
    OneShot(Metering),
    /// Many short-lived instances at once (`serve`): pooled slots, epoch deadlines.
    Serve {
        /// How many instances may be alive at once (pool slots).
        max_instances: u32,
        /// What the engine meters.
        metering: Metering,
    },
}

/// Which budgets the compiled code must be able to enforce (each costs a little speed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Metering {
    /// Count fuel (code checks a counter at every loop and call).
    pub fuel: bool,
    /// Check the epoch (code checks a counter at every loop and call), for deadlines.
    pub epochs: bool,
    /// Wasm stack limit in bytes; `None` is [`DEFAULT_STACK`].
    pub stack: Option<u64>,
    /// Run WASI 0.3 components: the component model's async ABI (`async func`, `stream`,
    /// `future`) and its executor.
    pub wasi3: bool,
}

impl Metering {
    /// What serving `app` needs: its budgets, and WASI 0.3 when a component opts in.
    pub fn for_app(app: &wasmhub_app::App) -> Self {
        Self {
            wasi3: app
                .components
                .iter()
                .any(|c| c.wasi == wasmhub_app::WasiVersion::P3),
            ..Self::for_budgets(app.components.iter().map(|c| &c.budget))
        }
    }

    /// What enforcing all of `budgets` needs; the stack is the largest any asks.
    pub fn for_budgets<'a>(budgets: impl IntoIterator<Item = &'a wasmhub_app::Budget>) -> Self {
        let mut m = Self::default();
        for b in budgets {
            m.fuel |= b.fuel.is_some();
            m.epochs |= b.deadline.is_some();
            m.stack = m.stack.max(b.stack);
        }
        m
    }
}

/// Wasm stack when no budget sets one (Wasmtime's default).
pub const DEFAULT_STACK: u64 = 512 << 10;

/// Largest linear memory a served instance may grow to (per memory).
pub const SERVE_MAX_MEMORY: usize = 256 << 20;

/// Set by [`compile_serially`].
static SERIAL: AtomicBool = AtomicBool::new(false);

/// From now on this process's engines compile on the calling thread, with no pool of
/// compile threads: a sandboxed worker's, which must still be single-threaded when it locks
/// down, and compiles whatever the compile cache does not hold (`--no-cache`, or code
/// evicted since the server compiled it) before. Not part of the compile cache's key: the
/// code is the same.
pub fn compile_serially() {
    SERIAL.store(true, Ordering::Relaxed);
}

/// Builds the engine for `kind`; the compile cache keys entries by this configuration.
pub fn new_engine(kind: EngineKind) -> Result<Engine> {
    new_engine_with(kind, None)
}

/// [`new_engine`], reusing compiled function bodies from `incremental` when given.
pub fn new_engine_with(
    kind: EngineKind,
    incremental: Option<Arc<crate::IncrementalStore>>,
) -> Result<Engine> {
    let mut config = Config::new();
    if let Some(store) = incremental {
        config.enable_incremental_compilation(store)?;
    }
    // Wasm backtraces (on by default) name functions on traps.
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    if SERIAL.load(Ordering::Relaxed) {
        config.parallel_compilation(false);
    }
    let (EngineKind::OneShot(metering) | EngineKind::Serve { metering, .. }) = kind;
    // WASI 0.2 components need none of the component-model-async machinery; leaving it
    // out of every Store is measurably cheaper per instance, so only WASI 0.3 opts in.
    config.concurrency_support(metering.wasi3);
    config.wasm_component_model_async(metering.wasi3);
    config.consume_fuel(metering.fuel);
    config.epoch_interruption(metering.epochs || matches!(kind, EngineKind::Serve { .. }));
    let stack = usize::try_from(metering.stack.unwrap_or(DEFAULT_STACK)).unwrap_or(usize::MAX);
    config.max_wasm_stack(stack);
    // Async calls run on a fiber whose stack must hold the wasm stack plus host frames.
    config.async_stack_size(stack.max(1 << 20) + (1 << 20));
    if let EngineKind::Serve { max_instances, .. } = kind {
        // Deadlines interrupt guests that never yield; the ticker lives with the server.
        let mut pool = PoolingAllocationConfig::default();
        // Each component instance may hold several core instances, memories and tables.
        pool.total_component_instances(max_instances);
        pool.total_core_instances(max_instances.saturating_mul(8));
        pool.total_memories(max_instances.saturating_mul(2));
        pool.total_tables(max_instances.saturating_mul(8));
        // One fiber stack per live instance (every served 0.2 call is async); a 0.3
        // instance may run several guest tasks at once, each on its own fiber. Wasmtime's
        // default is 1000 whatever the instance cap; each stack costs a guard-page
        // `mprotect` when the engine starts (1.5 ms of CPU per start for 900 of them).
        pool.total_stacks(if metering.wasi3 {
            max_instances.saturating_mul(2).max(1000)
        } else {
            max_instances
        });
        pool.max_memories_per_component(4);
        pool.max_tables_per_component(16);
        pool.max_memory_size(SERVE_MAX_MEMORY);
        // Resetting a slot for the next request (measured with `cargo xtask bench serve`,
        // hello-world guest, 2 cores): madvise-ing memory back costs a TLB-shootdown IPI
        // per request (9.1k req/s with 64 KiB kept resident); memset-ing a 2 MiB resident
        // window avoids it (15.5k req/s); with Linux's PAGEMAP_SCAN (6.7+) only the pages a
        // request dirtied are reset, so the window can cover the whole memory (25k req/s).
        // The scan misses swapped-out pages, so it is used only where there is no swap.
        let scan = *crate::reset::reset_mode() == crate::reset::ResetMode::DirtyPageScan;
        if scan {
            pool.pagemap_scan(wasmtime::Enabled::Auto);
        }
        pool.linear_memory_keep_resident(if scan { 8 << 20 } else { 2 << 20 });
        pool.table_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        config.memory_init_cow(true);
    }
    let engine = Engine::new(&config)?;
    crate::ticker::configure(
        &engine,
        match kind {
            EngineKind::OneShot(_) => crate::ONE_SHOT_TICK,
            EngineKind::Serve { .. } => crate::SERVE_TICK,
        },
    );
    Ok(engine)
}
