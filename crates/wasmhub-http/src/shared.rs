//! What every request shares: the engines, the current generation of the app, the options,
//! the host's instance cap and the metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmhub_core::Engines;

use crate::ServeOptions;
use crate::generation::{Current, Generation};
use crate::metrics::Metrics;
use crate::prepared::PreparedApp;
use crate::slots::Limit;

/// Everything requests share.
pub struct Shared {
    /// The engines components run on.
    pub engines: Engines,
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
    pub fn new(engines: impl Into<Engines>, app: PreparedApp, options: ServeOptions) -> Self {
        Self {
            engines: engines.into(),
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

    /// The request's id: a worker's comes from its server (and the header carrying it is
    /// removed, so the guest sees what it would in process), else [`Shared::next_id`].
    pub fn request_id<B>(&self, req: &mut hyper::Request<B>) -> Arc<str> {
        let given = self.options.worker.then(|| {
            let v = req.headers_mut().remove(crate::worker::ID_HEADER)?;
            v.to_str().ok().map(Arc::from)
        });
        given.flatten().unwrap_or_else(|| self.next_id())
    }

    /// A new request id: 16 hex digits, unique in this process.
    pub fn next_id(&self) -> Arc<str> {
        format!("{:016x}", self.next_id.fetch_add(1, Ordering::Relaxed)).into()
    }
}
