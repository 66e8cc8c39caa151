//! Engine configuration shared by every verb.

use anyhow::Result;
use wasmtime::{Config, Engine};

/// What the engine will be used for; each kind is one fixed configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// One short-lived instance per process (`run`, `invoke`, `inspect`).
    OneShot,
}

/// Builds the engine for `kind`; the compile cache keys entries by this configuration.
pub fn new_engine(kind: EngineKind) -> Result<Engine> {
    let mut config = Config::new();
    match kind {
        EngineKind::OneShot => {
            // Wasm backtraces (on by default) name functions on traps.
            config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        }
    }
    Ok(Engine::new(&config)?)
}
