//! Long requests give way to short ones: after [`SHORT_TICKS`] epoch ticks of running, a
//! guest runs one tick and then pauses for [`PAUSE`] whenever other requests are in flight,
//! so a guest that loops to its deadline cannot take a full share of a worker thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::{Store, UpdateDeadline};

/// Ticks (1 ms each in `serve`) a request runs at a full share.
pub const SHORT_TICKS: u64 = 10;

/// How long a long request waits after each tick while others are in flight.
pub const PAUSE: Duration = Duration::from_millis(3);

/// Instances in flight on the host, and how many of them are long.
#[derive(Default)]
pub struct Lanes {
    in_flight: AtomicU64,
    long: AtomicU64,
}

/// One instance's place in [`Lanes`], given back when its store is dropped.
struct Running {
    lanes: Arc<Lanes>,
    ticks: u64,
    long: bool,
}

impl Running {
    fn new(lanes: Arc<Lanes>) -> Self {
        lanes.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            lanes,
            ticks: 0,
            long: false,
        }
    }

    /// What to do at this epoch tick.
    fn tick(&mut self) -> UpdateDeadline {
        self.ticks += 1;
        if self.ticks <= SHORT_TICKS {
            return UpdateDeadline::Yield(1);
        }
        if !self.long {
            self.long = true;
            self.lanes.long.fetch_add(1, Ordering::Relaxed);
        }
        let others =
            self.lanes.in_flight.load(Ordering::Relaxed) > self.lanes.long.load(Ordering::Relaxed);
        if others {
            UpdateDeadline::YieldCustom(1, Box::pin(tokio::time::sleep(PAUSE)))
        } else {
            UpdateDeadline::Yield(1)
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.lanes.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.long {
            self.lanes.long.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Makes `store` yield at every epoch tick, and give way once it has run long.
pub fn install<T: 'static>(store: &mut Store<T>, lanes: &Arc<Lanes>) {
    let mut running = Running::new(lanes.clone());
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| Ok(running.tick()));
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
        let mut long = Running::new(lanes.clone());
        for _ in 0..SHORT_TICKS {
            assert!(!pauses(&long.tick()), "short requests run at a full share");
        }
        assert!(!pauses(&long.tick()), "alone, a long request runs on");
        let mut short = Running::new(lanes.clone());
        assert!(
            pauses(&long.tick()),
            "with a short request in flight, it gives way"
        );
        assert!(!pauses(&short.tick()));
        drop(short);
        assert!(!pauses(&long.tick()));
        drop(long);
        assert_eq!(lanes.in_flight.load(Ordering::Relaxed), 0);
        assert_eq!(lanes.long.load(Ordering::Relaxed), 0);
    }
}
