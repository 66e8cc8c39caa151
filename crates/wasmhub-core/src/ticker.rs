//! One thread per engine that advances its epoch: deadlines and yields are seen at ticks.
//!
//! An engine's tick period is fixed when it is built ([`crate::new_engine`]: [`SERVE_TICK`]
//! for `serve`, [`ONE_SHOT_TICK`] for one-shot verbs); whoever first needs ticks starts the
//! engine's one ticker at that period, so nothing (a linked component's deadline, say) can
//! start a second, faster one beside it.

use std::sync::Mutex;
use std::time::Duration;

use wasmtime::{Engine, EngineWeak};

/// How often `serve`'s epoch advances: a deadline is seen at most this late.
pub const SERVE_TICK: Duration = Duration::from_millis(1);

/// How often a one-shot run's epoch advances: finer, as one process runs one call.
pub const ONE_SHOT_TICK: Duration = Duration::from_micros(200);

/// One engine's tick period, and whether its ticker runs.
struct Entry {
    engine: EngineWeak,
    period: Duration,
    ticking: bool,
}

/// Every live engine's entry (an engine that is gone drops out at the next look-up).
static ENGINES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Runs `f` on `engine`'s entry, made with `period` when it has none.
fn with_entry<R>(engine: &Engine, period: Duration, f: impl FnOnce(&mut Entry) -> R) -> R {
    let mut all = ENGINES.lock().unwrap_or_else(|p| p.into_inner());
    all.retain(|e| e.engine.upgrade().is_some());
    let at = all
        .iter()
        .position(|e| e.engine.upgrade().is_some_and(|e| Engine::same(&e, engine)));
    let at = at.unwrap_or_else(|| {
        all.push(Entry {
            engine: engine.weak(),
            period,
            ticking: false,
        });
        all.len() - 1
    });
    f(&mut all[at])
}

/// Fixes `engine`'s tick period (done once, by [`crate::new_engine`]).
pub(crate) fn configure(engine: &Engine, period: Duration) {
    with_entry(engine, period, |e| e.period = period);
}

/// `engine`'s tick period: as configured when it was built, else [`SERVE_TICK`].
pub fn tick_period(engine: &Engine) -> Duration {
    with_entry(engine, SERVE_TICK, |e| e.period)
}

/// Makes sure `engine`'s epoch advances at its configured period while the engine lives:
/// one ticker per engine however many stores or servers ask, never a thread per call.
pub fn ensure_ticking(engine: &Engine) {
    let start = with_entry(engine, SERVE_TICK, |e| {
        let start = (!e.ticking).then_some(e.period);
        e.ticking = true;
        start
    });
    if let Some(period) = start {
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasmhub-epoch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(period);
                    // Stops once the engine is gone.
                    let Some(engine) = weak.upgrade() else { break };
                    engine.increment_epoch();
                }
            })
            .expect("spawn the epoch ticker");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EngineKind, Metering, new_engine};

    #[test]
    fn an_engine_keeps_the_period_it_was_built_with() {
        let serve = new_engine(EngineKind::Serve {
            max_instances: 2,
            metering: Metering::default(),
        })
        .unwrap();
        let one_shot = new_engine(EngineKind::OneShot(Metering::default())).unwrap();
        ensure_ticking(&serve);
        ensure_ticking(&serve);
        assert_eq!(tick_period(&serve), SERVE_TICK);
        assert_eq!(tick_period(&one_shot), ONE_SHOT_TICK);
        let ticking = ENGINES
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.engine.upgrade().is_some_and(|e| Engine::same(&e, &serve)))
            .filter(|e| e.ticking)
            .count();
        assert_eq!(ticking, 1, "one ticker per engine");
    }
}
