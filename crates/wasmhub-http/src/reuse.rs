//! Opt-in instance reuse (`reuse = N`): one instance serves up to N requests of its
//! component, a few at once (WASI 0.3) or one at a time (WASI 0.2), and is dropped when it
//! has been idle for [`IDLE`], once it has served N, and after any failure: a trap, a
//! budget stop or a deadline spoils it, and the next request gets a fresh one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;

use crate::failure::{DeadlineExceeded, exceeded, past_deadline};

/// How long an idle reused instance is kept for the next request, by default.
pub const IDLE: Duration = Duration::from_secs(1);

/// Requests one WASI 0.3 instance serves at once (a WASI 0.2 instance serves one).
pub const CONCURRENT: usize = 16;

/// How a component's instances are reused, when they are.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Requests one instance may serve in all.
    pub max: u32,
    /// Requests it may serve at once.
    pub concurrent: usize,
    /// How long it waits idle for the next one.
    pub idle: Duration,
}

impl Policy {
    /// The policy for `reuse`, or `None` for a fresh instance per request.
    pub fn of(reuse: wasmhub_app::Reuse, wasi3: bool, idle: Duration) -> Option<Self> {
        reuse.is_reused().then_some(Self {
            max: reuse.get(),
            concurrent: if wasi3 { CONCURRENT } else { 1 },
            idle,
        })
    }
}

/// What became of one reused instance: shared by it and the requests it serves.
#[derive(Default)]
pub struct Fate {
    failure: OnceLock<Arc<anyhow::Error>>,
    spoiled: AtomicBool,
    failed: Notify,
}

impl Fate {
    /// The instance failed: it takes no more requests, and those in flight learn why.
    pub fn fail(&self, e: anyhow::Error) {
        self.spoiled.store(true, Ordering::Release);
        let _ = self.failure.set(Arc::new(e));
        self.failed.notify_waiters();
    }

    /// Takes no more requests, though nothing failed (an error answer, say).
    pub fn spoil(&self) {
        self.spoiled.store(true, Ordering::Release);
    }

    /// Whether it must not take another request.
    pub fn is_spoiled(&self) -> bool {
        self.spoiled.load(Ordering::Acquire)
    }

    /// Its failure, for one request, if it failed.
    pub fn failure(&self) -> Option<anyhow::Error> {
        self.failure.get().map(|e| share(e))
    }

    /// Waits up to `limit` for its failure.
    pub async fn failed_within(&self, limit: Duration) -> Option<anyhow::Error> {
        let notified = self.failed.notified();
        if let Some(e) = self.failure() {
            return Some(e);
        }
        let _ = tokio::time::timeout(limit, notified).await;
        self.failure()
    }
}

/// One instance's failure as one of its requests' own: the same kind (deadline, budget,
/// trap), the details in the message.
fn share(e: &anyhow::Error) -> anyhow::Error {
    if past_deadline(e) {
        let d = e
            .chain()
            .find_map(|c| c.downcast_ref::<DeadlineExceeded>())
            .map_or(Duration::ZERO, |d| d.0);
        return DeadlineExceeded(d).into();
    }
    match exceeded(e) {
        Some(x) => x.clone().into(),
        None => anyhow::anyhow!("the reused instance failed: {e:?}"),
    }
}

/// A WASI 0.2 instance kept for its component's next request.
pub struct Kept {
    /// Its store.
    pub store: wasmtime::Store<crate::state::ServeState>,
    /// Its handler export.
    pub proxy: wasmtime_wasi_http::p2::bindings::Proxy,
    /// Its budget's meter.
    pub meter: wasmhub_core::Meter,
    /// The request id its guest's log lines carry.
    pub id: Arc<std::sync::Mutex<Arc<str>>>,
    /// Requests it has served.
    pub served: u32,
    since: std::time::Instant,
}

impl Kept {
    /// A kept instance that has served `served` requests.
    pub fn new(
        store: wasmtime::Store<crate::state::ServeState>,
        proxy: wasmtime_wasi_http::p2::bindings::Proxy,
        meter: wasmhub_core::Meter,
        id: Arc<std::sync::Mutex<Arc<str>>>,
        served: u32,
    ) -> Self {
        Self {
            store,
            proxy,
            meter,
            id,
            served,
            since: std::time::Instant::now(),
        }
    }
}

/// A WASI 0.2 component's idle instances, each serving one request at a time.
pub struct Pool {
    /// How its instances are reused.
    pub policy: Policy,
    idle: std::sync::Mutex<Vec<Kept>>,
    sweeping: AtomicBool,
}

impl Pool {
    /// An empty pool for `policy`.
    pub fn new(policy: Policy) -> Arc<Self> {
        Arc::new(Self {
            policy,
            idle: Default::default(),
            sweeping: AtomicBool::new(false),
        })
    }

    /// An idle instance that has not been idle too long, if there is one.
    pub fn take(&self) -> Option<Kept> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(kept) = idle.pop() {
            if kept.since.elapsed() < self.policy.idle {
                return Some(kept);
            }
        }
        None
    }

    /// Keeps `kept` for the next request unless it has served its share; a sweeper drops
    /// instances idle past the timeout.
    pub fn put(self: &Arc<Self>, kept: Kept) {
        if kept.served >= self.policy.max {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(kept);
        }
        if !self.sweeping.swap(true, Ordering::AcqRel) {
            let pool = Arc::downgrade(self);
            tokio::spawn(async move {
                loop {
                    let Some(idle) = pool.upgrade().map(|p| p.policy.idle) else {
                        return;
                    };
                    tokio::time::sleep(idle).await;
                    let Some(pool) = pool.upgrade() else { return };
                    let Ok(mut kept) = pool.idle.lock() else {
                        return;
                    };
                    kept.retain(|k| k.since.elapsed() < idle);
                    if kept.is_empty() {
                        pool.sweeping.store(false, Ordering::Release);
                        return;
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_instance_is_spoiled_and_its_requests_learn_the_kind() {
        let fate = Arc::new(Fate::default());
        assert!(!fate.is_spoiled());
        assert!(
            fate.failed_within(Duration::from_millis(10))
                .await
                .is_none()
        );
        let waiting = tokio::spawn({
            let fate = fate.clone();
            async move { fate.failed_within(Duration::from_secs(30)).await }
        });
        tokio::task::yield_now().await;
        fate.fail(anyhow::Error::from(DeadlineExceeded(Duration::from_secs(2))).context("x"));
        let e = waiting.await.unwrap().expect("the failure");
        assert!(past_deadline(&e), "{e:?}");
        assert!(fate.is_spoiled());
        let trap = Fate::default();
        trap.fail(anyhow::anyhow!("unreachable"));
        assert!(format!("{:?}", trap.failure().unwrap()).contains("unreachable"));
    }
}
