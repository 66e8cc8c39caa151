//! What a cluster host knows about itself: the revision it serves, the newest one it has
//! seen, why that one failed; its heartbeat and its answer to `GET /-/health`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmhub_cluster::hosts::{HostReport, now_ms};

/// How long a host may be preparing the newest revision and still be ready: a rolling
/// update must not take every host out of the load balancer at once.
pub const UPDATE_GRACE: Duration = Duration::from_secs(10);

/// One host's state, shared by its follower, heartbeat and health check.
#[derive(Default)]
pub struct Status {
    /// The revision served.
    pub serving: Option<u64>,
    /// The newest revision seen, and since when.
    pub current: Option<(u64, Instant)>,
    /// The revision that could not be prepared, and why (kept until a newer one).
    pub failed: Option<(u64, String)>,
    /// Why the last fetch or read failed (retried).
    pub trouble: Option<String>,
    /// Whether the host is stopping.
    pub draining: bool,
}

/// [`Status`] behind a lock.
pub type Shared = Arc<Mutex<Status>>;

impl Status {
    /// Locks `s`.
    pub fn of(s: &Shared) -> std::sync::MutexGuard<'_, Self> {
        s.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Ok` when a load balancer should send this host requests: not draining, serving a
    /// revision, and either the newest one, or one that could not be replaced (the newest
    /// failed; the last good one keeps serving), or one being replaced for less than
    /// [`UPDATE_GRACE`].
    pub fn ready(&self) -> Result<(), String> {
        if self.draining {
            return Err("draining".into());
        }
        let Some(serving) = self.serving else {
            return Err("no revision served yet".into());
        };
        match self.current {
            Some((current, since)) if current != serving => {
                let failed = self.failed.as_ref().is_some_and(|(r, _)| *r == current);
                if failed || since.elapsed() < UPDATE_GRACE {
                    Ok(())
                } else {
                    Err(format!(
                        "serving revision {serving}; revision {current} is current"
                    ))
                }
            }
            _ => Ok(()),
        }
    }

    /// The heartbeat of host `id` of `app` at `addr`.
    pub fn report(&self, id: &str, app: &str, addr: &str, started_ms: u64) -> HostReport {
        let error = match (&self.failed, &self.current) {
            (Some((rev, why)), Some((current, _))) if rev == current => {
                Some(format!("revision {rev}: {why}"))
            }
            _ => self.trouble.clone(),
        };
        HostReport {
            id: id.to_owned(),
            app: app.to_owned(),
            addr: addr.to_owned(),
            revision: self.serving,
            current: self.current.map(|(r, _)| r),
            draining: self.draining,
            error,
            started_ms,
            sent_ms: now_ms(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_follows_the_revision_served() {
        let mut s = Status::default();
        assert!(s.ready().is_err(), "nothing served yet");
        s.serving = Some(1);
        s.current = Some((1, Instant::now()));
        assert_eq!(s.ready(), Ok(()));
        // Preparing revision 2: still ready within the grace...
        s.current = Some((2, Instant::now()));
        assert_eq!(s.ready(), Ok(()));
        // ...not past it.
        s.current = Some((2, Instant::now() - UPDATE_GRACE - Duration::from_secs(1)));
        assert_eq!(
            s.ready(),
            Err("serving revision 1; revision 2 is current".into())
        );
        // Revision 2 cannot be prepared: the last good one keeps serving, and says why.
        s.failed = Some((2, "tampered".into()));
        assert_eq!(s.ready(), Ok(()));
        assert_eq!(
            s.report("h", "a", "x", 0).error.as_deref(),
            Some("revision 2: tampered")
        );
        s.draining = true;
        assert_eq!(s.ready(), Err("draining".into()));
    }
}
