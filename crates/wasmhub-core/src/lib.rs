//! The one place that configures Wasmtime: the `Engine`, and the on-disk compile cache.

#![deny(missing_docs)]

mod cache;
mod engine;
mod load;

pub use cache::{CacheOutcome, CompileCache};
pub use engine::{EngineKind, new_engine};
pub use load::{LoadError, Loaded, load_component};
