//! The one place that configures Wasmtime: the `Engine`, and the on-disk compile cache.

#![deny(missing_docs)]

mod cache;
mod engine;
mod engines;
mod incremental;
mod limiter;
mod load;
mod meter;
mod reset;
#[cfg(test)]
mod scratch;
mod ticker;

pub use cache::{CacheOutcome, CompileCache, sha256_hex};
pub use engine::{
    DEFAULT_STACK, EngineKind, Metering, compile_serially, new_engine, new_engine_with,
};
pub use engines::{Engines, engines_needed, joins_versions};
pub use incremental::{IncrementalStats, IncrementalStore};
pub use limiter::{MAX_TABLE_ELEMENTS, MemoryMeter, TABLE_ELEMENT_BYTES};
pub use load::{LoadError, Loaded, load_component};
pub use meter::{
    BudgetExceeded, DeadlinePassed, Exceeded, Meter, Usage, check_size, ms, thousands,
};
pub use reset::{Machine, ResetMode, decide, reset_mode};
pub use ticker::{ONE_SHOT_TICK, SERVE_TICK, ensure_ticking, tick_period};
