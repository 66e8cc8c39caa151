//! Generations: the whole prepared app with its number, published at once. A request takes
//! the current one once, when it is routed, and holds it until its response body ends; a
//! generation is freed (and the log says so) when its last request ends.

use std::sync::{Arc, RwLock};

use crate::prepared::PreparedApp;

/// One version of the app: its routes, pre-linked components, grants, budgets, links and
/// limits, and its number (1 at start, one more per successful reload).
pub struct Generation {
    /// Its number.
    pub number: u64,
    /// The app it serves.
    pub app: PreparedApp,
}

impl Drop for Generation {
    fn drop(&mut self) {
        tracing::info!("generation {} freed", self.number);
    }
}

/// The generation new requests are routed in.
pub struct Current(RwLock<Arc<Generation>>);

impl Current {
    /// Starts with `app` as generation 1.
    pub fn new(app: PreparedApp) -> Self {
        Self(RwLock::new(Arc::new(Generation { number: 1, app })))
    }

    /// The current generation (a read lock held only to clone the pointer).
    pub fn get(&self) -> Arc<Generation> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Publishes `app` as the next generation; requests routed from now on run in it.
    /// Returns its number.
    pub fn publish(&self, app: PreparedApp) -> u64 {
        let mut current = self.0.write().unwrap_or_else(|e| e.into_inner());
        let number = current.number + 1;
        let old = std::mem::replace(&mut *current, Arc::new(Generation { number, app }));
        drop(current);
        // Freed here unless requests still hold it (outside the lock either way).
        drop(old);
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> PreparedApp {
        PreparedApp {
            app: wasmhub_app::App {
                name: "empty".into(),
                components: Vec::new(),
                request_shape: wasmhub_app::RequestShape::Plain,
                unavailable: Default::default(),
                texts: Default::default(),
            },
            served: Vec::new(),
        }
    }

    #[test]
    fn a_generation_lives_while_a_request_holds_it() {
        let current = Current::new(empty());
        let held = current.get();
        assert_eq!(current.publish(empty()), 2);
        assert_eq!(
            held.number, 1,
            "a request keeps the generation it was routed in"
        );
        assert_eq!(current.get().number, 2);
        let weak = Arc::downgrade(&held);
        drop(held);
        assert!(weak.upgrade().is_none(), "freed with its last request");
        assert_eq!(current.publish(empty()), 3);
    }
}
