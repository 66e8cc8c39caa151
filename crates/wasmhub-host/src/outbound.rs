//! The outgoing-HTTP hook: requests leave only for destinations the component was granted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use wasmhub_app::OutboundRule;
use wasmtime_wasi_http::WasiHttpHooks;

/// Sends outgoing requests only to destinations the component was granted.
pub struct Outbound {
    /// The granted destinations.
    pub rules: Arc<[OutboundRule]>,
    /// The component's name, for the denial's log line.
    pub component: Arc<str>,
}

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: hyper::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    hyper::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                )>,
            > + Send,
    > {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_owned();
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "http" { 80 } else { 443 });
        if self.rules.iter().any(|r| r.allows(&scheme, &host, port)) {
            return wasmtime_wasi_http::default_hooks().send_request(request, options, fut);
        }
        let destination = format!("{scheme}://{host}:{port}");
        if let Some(suppressed) = denials().admit(&self.component, &destination, Instant::now()) {
            tracing::warn!(
                component = %self.component,
                destination = %destination,
                suppressed,
                "outbound request denied: not granted; add it to outbound = [...] under [component.{}.grant]",
                self.component
            );
        }
        Box::new(async move { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// At most one denial line per component and destination in this interval.
const DENIAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Component and destination pairs remembered; past it, a component's further
/// destinations share one entry, so a guest cannot grow this without bound.
const DENIALS_TRACKED: usize = 1024;

/// The process's denial log limiter.
fn denials() -> &'static Denials {
    static DENIALS: OnceLock<Denials> = OnceLock::new();
    DENIALS.get_or_init(Denials::default)
}

/// Rate-limits the denial log: the first denial of a component and destination is logged,
/// then at most one per [`DENIAL_LOG_INTERVAL`], saying how many were not.
#[derive(Default)]
struct Denials {
    seen: Mutex<HashMap<(Arc<str>, String), Seen>>,
}

struct Seen {
    logged: Instant,
    suppressed: u64,
}

impl Denials {
    /// `Some(denials suppressed since the last line)` when this one is to be logged.
    fn admit(&self, component: &Arc<str>, destination: &str, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = (component.clone(), destination.to_owned());
        if !seen.contains_key(&key) && seen.len() >= DENIALS_TRACKED {
            seen.retain(|_, s| now.duration_since(s.logged) < DENIAL_LOG_INTERVAL);
            if seen.len() >= DENIALS_TRACKED {
                key.1 = "(other destinations)".to_owned();
            }
        }
        match seen.get_mut(&key) {
            None => {
                seen.insert(
                    key,
                    Seen {
                        logged: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
            Some(s) if now.duration_since(s.logged) >= DENIAL_LOG_INTERVAL => {
                s.logged = now;
                Some(std::mem::take(&mut s.suppressed))
            }
            Some(s) => {
                s.suppressed += 1;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_are_logged_once_per_interval_with_the_count_suppressed() {
        let d = Denials::default();
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let t = Instant::now();
        assert_eq!(d.admit(&a, "http://x:80", t), Some(0));
        for _ in 0..5 {
            assert_eq!(d.admit(&a, "http://x:80", t + Duration::from_secs(1)), None);
        }
        // Another destination, or another component, has its own first line.
        assert_eq!(d.admit(&a, "http://y:80", t), Some(0));
        assert_eq!(d.admit(&b, "http://x:80", t), Some(0));
        let later = t + DENIAL_LOG_INTERVAL;
        assert_eq!(d.admit(&a, "http://x:80", later), Some(5));
        assert_eq!(d.admit(&a, "http://x:80", later), None);
    }

    #[test]
    fn many_destinations_share_one_entry_past_the_cap() {
        let d = Denials::default();
        let a: Arc<str> = "a".into();
        let t = Instant::now();
        for i in 0..DENIALS_TRACKED {
            assert_eq!(d.admit(&a, &format!("http://h{i}:80"), t), Some(0));
        }
        assert_eq!(d.admit(&a, "http://one-more:80", t), Some(0));
        assert_eq!(d.admit(&a, "http://and-another:80", t), None);
        assert!(d.seen.lock().unwrap().len() <= DENIALS_TRACKED + 1);
    }
}
