//! `GET /-/health` on the admin listener: 200 `ready` while the server takes new requests
//! and its owner's check passes, 503 with why otherwise (draining, or e.g. a cluster host
//! not yet on the current revision), so a load balancer can follow it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hyper::StatusCode;

/// The owner's readiness check: `Err(why)` while the server should get no new requests.
pub type ReadyCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Whether the server should get new requests.
#[derive(Default)]
pub struct Health {
    draining: AtomicBool,
    check: Option<ReadyCheck>,
}

impl Health {
    /// Ready while not draining and `check` (if any) passes.
    pub fn new(check: Option<ReadyCheck>) -> Self {
        Self {
            draining: AtomicBool::new(false),
            check,
        }
    }

    /// From now on, not ready: the server is draining.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// The status and body of `GET /-/health`.
    pub fn answer(&self) -> (StatusCode, String) {
        if self.draining.load(Ordering::SeqCst) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: draining\n".into(),
            );
        }
        match self.check.as_ref().map_or(Ok(()), |c| c()) {
            Ok(()) => (StatusCode::OK, "ready\n".into()),
            Err(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_until_the_check_fails_or_the_server_drains() {
        let ok = Arc::new(AtomicBool::new(true));
        let flag = ok.clone();
        let check: ReadyCheck = Arc::new(move || {
            if flag.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("serving revision 1, revision 2 is current".into())
            }
        });
        let health = Health::new(Some(check));
        assert_eq!(health.answer().0, StatusCode::OK);
        ok.store(false, Ordering::SeqCst);
        assert_eq!(
            health.answer(),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: serving revision 1, revision 2 is current\n".into()
            )
        );
        ok.store(true, Ordering::SeqCst);
        health.drain();
        assert_eq!(health.answer().1, "not ready: draining\n");
    }
}
