//! What a store does at each epoch tick, for every store wasmhub makes: stop at the budget's
//! deadline, else yield to the runtime (a busy guest never holds a worker thread), and give
//! way once it has run long: after [`SHORT_TICKS`] ticks, a request's guests run one tick
//! and then pause for [`PAUSE`] whenever other requests are in flight, so a guest that loops
//! to its deadline cannot take a full share of a worker thread.
//!
//! A request's linked components share its [`Lane`]: the ticks of all its stores count
//! together, and a root waiting on its link target is not "another request".

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmhub_core::DeadlinePassed;
use wasmtime::{Store, UpdateDeadline};

/// Ticks (1 ms each in `serve`) a request runs at a full share.
pub const SHORT_TICKS: u64 = 10;

/// How long a long request waits after each tick while others are in flight.
pub const PAUSE: Duration = Duration::from_millis(3);

/// Requests in flight on the host, and how many of them are long.
#[derive(Default)]
pub struct Lanes {
    in_flight: AtomicU64,
    long: AtomicU64,
}

impl Lanes {
    /// A place for one request (its root and its link targets), given back when the last
    /// of its stores is dropped.
    pub fn enter(self: &Arc<Self>) -> Lane {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Lane(Arc::new(Place {
            lanes: self.clone(),
            ticks: AtomicU64::new(0),
            long: AtomicBool::new(false),
        }))
    }
}

/// One request's place in [`Lanes`], shared by the stores of its components.
#[derive(Clone)]
pub struct Lane(Arc<Place>);

struct Place {
    lanes: Arc<Lanes>,
    ticks: AtomicU64,
    long: AtomicBool,
}

impl Lane {
    /// A lane of its own, for a one-shot run (nothing else to give way to).
    pub fn alone() -> Self {
        Arc::new(Lanes::default()).enter()
    }

    /// What to do at this epoch tick.
    fn tick(&self) -> UpdateDeadline {
        let place = &self.0;
        let ticks = place.ticks.fetch_add(1, Ordering::Relaxed) + 1;
        if ticks <= SHORT_TICKS {
            return UpdateDeadline::Yield(1);
        }
        let lanes = &place.lanes;
        if !place.long.swap(true, Ordering::Relaxed) {
            lanes.long.fetch_add(1, Ordering::Relaxed);
        }
        let others = lanes.in_flight.load(Ordering::Relaxed) > lanes.long.load(Ordering::Relaxed);
        if others {
            UpdateDeadline::YieldCustom(1, Box::pin(tokio::time::sleep(PAUSE)))
        } else {
            UpdateDeadline::Yield(1)
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.lanes.in_flight.fetch_sub(1, Ordering::Relaxed);
        if *self.long.get_mut() {
            self.lanes.long.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Makes `store` stop at `ends` (its budget's deadline), else yield at every epoch tick and
/// give way once its request has run long. Installed by [`crate::new_store`] only.
pub(crate) fn install<T: 'static>(store: &mut Store<T>, ends: Option<Instant>, lane: Lane) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if ends.is_some_and(|end| Instant::now() >= end) {
            return Err(DeadlinePassed.into());
        }
        Ok(lane.tick())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pauses(d: &UpdateDeadline) -> bool {
        matches!(d, UpdateDeadline::YieldCustom(..))
    }

    #[tokio::test]
    async fn a_long_request_pauses_only_while_others_are_in_flight() {
        let lanes = Arc::new(Lanes::default());
        let long = lanes.enter();
        for _ in 0..SHORT_TICKS {
            assert!(!pauses(&long.tick()), "short requests run at a full share");
        }
        assert!(!pauses(&long.tick()), "alone, a long request runs on");
        // Its link target's store shares its lane: still alone.
        let target = long.clone();
        assert!(
            !pauses(&target.tick()),
            "a request's own stores are one request"
        );
        let short = lanes.enter();
        assert!(
            pauses(&long.tick()),
            "with a short request in flight, it gives way"
        );
        assert!(!pauses(&short.tick()));
        drop(short);
        assert!(!pauses(&long.tick()));
        drop((long, target));
        assert_eq!(lanes.in_flight.load(Ordering::Relaxed), 0);
        assert_eq!(lanes.long.load(Ordering::Relaxed), 0);
    }
}
