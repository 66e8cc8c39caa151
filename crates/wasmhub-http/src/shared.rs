//! What every request shares: the engine, the current generation of the app, the options,
//! the host's instance cap and the metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Engine;

use crate::ServeOptions;
use crate::generation::{Current, Generation};
use crate::metrics::Metrics;
use crate::prepared::PreparedApp;
use crate::slots::Limit;

/// Everything requests share.
pub struct Shared {
    /// The one engine.
    pub engine: Engine,
    /// The app's current generation, every routed component pre-linked.
    pub current: Current,
    /// How the server listens and what it allows each request.
    pub options: ServeOptions,
    /// The host's cap on instances alive at once.
    pub instances: Limit,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    next_id: AtomicU64,
}

impl Shared {
    /// Shares `app` under `options`.
    pub fn new(engine: Engine, app: PreparedApp, options: ServeOptions) -> Self {
        Self {
            engine,
            current: Current::new(app),
            instances: Limit::new(options.max_instances),
            options,
            metrics: Arc::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// The generation a request routed now runs in.
    pub fn generation(&self) -> Arc<Generation> {
        self.current.get()
    }

    /// A new request id: 16 hex digits, unique in this process.
    pub fn next_id(&self) -> Arc<str> {
        format!("{:016x}", self.next_id.fetch_add(1, Ordering::Relaxed)).into()
    }
}
