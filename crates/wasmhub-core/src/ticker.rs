//! One thread per host that advances the engine's epoch: deadlines and yields are seen at ticks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::Engine;

/// How often `serve`'s epoch advances: a deadline is seen at most this late.
pub const SERVE_TICK: Duration = Duration::from_millis(1);

/// How often a one-shot run's epoch advances: finer, as one process runs one call.
pub const ONE_SHOT_TICK: Duration = Duration::from_micros(200);

/// The running ticker; stops when dropped.
#[derive(Debug)]
pub struct Ticker(Arc<AtomicBool>);

impl Ticker {
    /// Starts advancing `engine`'s epoch every `period`.
    pub fn start(engine: Engine, period: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("wasmhub-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(period);
                    engine.increment_epoch();
                }
            })
            .expect("spawn the epoch ticker");
        Self(stop)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Makes sure `engine`'s epoch advances every `period` for the rest of the process: one
/// ticker per engine however many stores set deadlines, never a thread per call.
pub fn ensure_ticking(engine: &Engine, period: Duration) {
    static TICKING: std::sync::Mutex<Vec<Engine>> = std::sync::Mutex::new(Vec::new());
    let mut ticking = TICKING.lock().unwrap_or_else(|p| p.into_inner());
    if ticking.iter().any(|e| Engine::same(e, engine)) {
        return;
    }
    ticking.push(engine.clone());
    // Lives as long as the process, like the engine it ticks.
    std::mem::forget(Ticker::start(engine.clone(), period));
}
