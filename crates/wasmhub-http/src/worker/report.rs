//! What workers count, on their server's `/metrics`: guest failures, live instances, fuel,
//! peak memory, dropped log lines and denied calls happen in a worker (the server counts
//! requests, latency and a failed worker itself). The server asks each live worker for its
//! [`Tally`] when `/metrics` is scraped, and a last time when it lets the worker go, once its
//! requests are over; a worker that dies keeps the counts it last reported, with none of its
//! instances live.
//!
//! A report is the worker's whole tally so far, numbered; the server keeps each worker's
//! newest, and adds an ended worker's once, so a late or repeated answer counts nothing twice
//! and a gauge goes back down. Denials are kept only for the worker's own components.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::client::conn::http2::SendRequest;
use hyper::{Request, Response};
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};

use crate::metrics::Metrics;
use crate::tally::Tally;

/// The header marking the server's request for its worker's tally (removed from every
/// forwarded request, so only the server sends it), and numbering the worker's answer.
pub(crate) const REPORT_HEADER: &str = "x-wasmhub-worker-report";

/// How long a scrape waits for a worker's answer before using its last report.
const ASK_WAIT: Duration = Duration::from_secs(2);

/// The largest report read.
const MAX_REPORT: usize = 1 << 20;

/// What a server's workers have reported (shared by every generation's pools).
#[derive(Default)]
pub(crate) struct Reports(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    /// The ended workers' last reports, added, none of their instances live.
    ended: Tally,
    /// Each live worker, by the number it joined with.
    live: HashMap<u64, Live>,
    joined: u64,
}

/// A live worker: how to ask it, its tenant's components, and its newest report.
struct Live {
    sender: SendRequest<HyperIncomingBody>,
    components: Arc<[String]>,
    newest: Report,
}

/// One answer of a worker: its number (higher is newer) and its tally.
#[derive(Default)]
struct Report {
    seq: u64,
    tally: Tally,
}

impl Reports {
    /// A started worker running `components`, asked on `sender`; it reports until the
    /// [`Reporter`] is dropped.
    pub(crate) fn join(
        self: &Arc<Self>,
        sender: SendRequest<HyperIncomingBody>,
        components: Arc<[String]>,
    ) -> Reporter {
        let mut inner = self.lock();
        inner.joined += 1;
        let id = inner.joined;
        let live = Live {
            sender,
            components,
            newest: Report::default(),
        };
        inner.live.insert(id, live);
        Reporter {
            id,
            reports: self.clone(),
        }
    }

    /// Every worker's counts: each live one asked now (its last report if it does not
    /// answer within [`ASK_WAIT`]), and the ended ones'.
    pub(crate) async fn collect(&self) -> Tally {
        let asks: Vec<_> = self
            .lock()
            .live
            .iter()
            .map(|(id, live)| (*id, live.sender.clone()))
            .collect();
        let mut answers = tokio::task::JoinSet::new();
        for (id, sender) in asks {
            answers.spawn(async move { (id, ask(sender).await) });
        }
        while let Some(answer) = answers.join_next().await {
            if let Ok((id, Some(report))) = answer {
                self.lock().keep(id, report);
            }
        }
        let inner = self.lock();
        let mut sum = inner.ended.clone();
        for live in inner.live.values() {
            sum.add(&live.newest.tally);
        }
        sum
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// Keeps `report` as worker `id`'s if it is newer than the one kept, with the denials
    /// of its own components only.
    fn keep(&mut self, id: u64, mut report: Report) {
        if let Some(live) = self.live.get_mut(&id)
            && report.seq > live.newest.seq
        {
            let theirs = &live.components;
            report.tally.denied.retain(|name, _| theirs.contains(name));
            live.newest = report;
        }
    }
}

/// One worker's place in [`Reports`]; dropped when the worker has ended (or is let go),
/// adding its newest report to the ended workers' with none of its instances live.
pub(crate) struct Reporter {
    id: u64,
    reports: Arc<Reports>,
}

impl Reporter {
    /// Asks the worker, whose requests are over, for its last report; then lets go of its
    /// connection (the worker exits once no one holds it).
    pub(crate) async fn last(self) {
        let sender = self
            .reports
            .lock()
            .live
            .get(&self.id)
            .map(|l| l.sender.clone());
        if let Some(report) = match sender {
            Some(sender) => ask(sender).await,
            None => None,
        } {
            self.reports.lock().keep(self.id, report);
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        let mut inner = self.reports.lock();
        if let Some(live) = inner.live.remove(&self.id) {
            inner.ended.add(&live.newest.tally.ended());
        }
    }
}

/// Asks a worker for its tally; `None` if it does not answer in time, or not with one.
async fn ask(mut sender: SendRequest<HyperIncomingBody>) -> Option<Report> {
    let body = Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync();
    let req = Request::get("/")
        .header(REPORT_HEADER, "1")
        .body(body)
        .ok()?;
    let asked = async {
        sender.ready().await.ok()?;
        let resp = sender.send_request(req).await.ok()?;
        let seq = resp
            .headers()
            .get(REPORT_HEADER)?
            .to_str()
            .ok()?
            .parse()
            .ok()?;
        let body = Limited::new(resp.into_body(), MAX_REPORT)
            .collect()
            .await
            .ok()?
            .to_bytes();
        let tally = Tally::decode(std::str::from_utf8(&body).ok()?)?;
        Some(Report { seq, tally })
    };
    let report = tokio::time::timeout(ASK_WAIT, asked).await.ok().flatten();
    if report.is_none() {
        tracing::debug!("a worker did not report its counts");
    }
    report
}

/// The worker's side: whether `req` is its server asking for its tally.
pub(crate) fn asked<B>(req: &Request<B>) -> bool {
    req.headers().contains_key(REPORT_HEADER)
}

/// The worker's side: its tally now, numbered by `answers` (one counter per worker).
pub(crate) fn answer(metrics: &Metrics, answers: &AtomicU64) -> Response<HyperOutgoingBody> {
    let seq = answers.fetch_add(1, Ordering::Relaxed) + 1;
    let body = Full::new(Bytes::from(metrics.tally().encode()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut resp = Response::new(body);
    resp.headers_mut().insert(REPORT_HEADER, seq.into());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    /// An in-memory HTTP/2 connection to a server answering each request with
    /// `respond`: the client's end.
    async fn connected(
        respond: impl Fn(&Request<hyper::body::Incoming>) -> Response<HyperOutgoingBody>
        + Send
        + Sync
        + 'static,
    ) -> SendRequest<HyperIncomingBody> {
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        let service = hyper::service::service_fn(move |req| {
            let resp = respond(&req);
            async move { Ok::<_, std::convert::Infallible>(resp) }
        });
        tokio::spawn(
            hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(theirs), service),
        );
        let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(ours))
            .await
            .unwrap();
        tokio::spawn(conn);
        sender
    }

    /// A worker's side in memory: answers reports from `metrics` (anything else: 404).
    async fn worker(metrics: Arc<Metrics>) -> SendRequest<HyperIncomingBody> {
        let answers = AtomicU64::new(0);
        connected(move |req| {
            if asked(req) {
                return answer(&metrics, &answers);
            }
            let mut resp = Response::new(
                Full::new(Bytes::new())
                    .map_err(|n| match n {})
                    .boxed_unsync(),
            );
            *resp.status_mut() = hyper::StatusCode::NOT_FOUND;
            resp
        })
        .await
    }

    fn names(names: &[&str]) -> Arc<[String]> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[tokio::test]
    async fn a_workers_denials_are_kept_for_its_own_components_only() {
        let site = wasmhub_app::GrantSite::Manifest {
            component: "report-test".into(),
            at: "wasmhub.toml:1".into(),
        };
        let denials = wasmhub_caps::Denials::of(&site);
        denials.deny(&wasmhub_caps::Denied::outbound("http://127.0.0.1:9"));
        // Both workers run in this test process, so both report the denial above.
        let reports = Arc::new(Reports::default());
        let metrics = Arc::new(Metrics::default());
        let _own = reports.join(worker(metrics.clone()).await, names(&["report-test"]));
        let _other = reports.join(worker(metrics).await, names(&["another"]));
        let t = reports.collect().await;
        assert_eq!(t.denied.get("report-test").map(|d| d[2]), Some(1));
        assert_eq!(t.denied.len(), 1, "{:?}", t.denied);
    }

    #[tokio::test]
    async fn live_workers_are_asked_and_an_ended_one_keeps_its_counts_without_instances() {
        let reports = Arc::new(Reports::default());
        assert_eq!(reports.collect().await, Tally::default());
        let (a, b) = (Arc::new(Metrics::default()), Arc::new(Metrics::default()));
        let ra = reports.join(worker(a.clone()).await, names(&["a"]));
        let rb = reports.join(worker(b.clone()).await, names(&["b"]));
        a.failure("trap");
        b.failure("trap");
        b.failure("fuel");
        let live = b.instance();
        b.usage(Some(40), 1 << 16);
        let t = reports.collect().await;
        // The tallies of this test process's other parts (denials, dropped lines) are
        // counted twice here, once per worker; compare what only the workers counted.
        assert_eq!((t.failures[0], t.failures[2]), (2, 1));
        assert_eq!(
            (t.live_instances, t.fuel_used, t.peak_memory_max),
            (1, 40, 1 << 16)
        );
        // Asked again: the newest report replaces the last, nothing counted twice.
        a.failure("trap");
        let t = reports.collect().await;
        assert_eq!((t.failures[0], t.live_instances), (3, 1));
        // b is let go: its last report is taken, then it counts as ended.
        b.failure("trap");
        rb.last().await;
        drop(live);
        let t = reports.collect().await;
        assert_eq!((t.failures[0], t.failures[2], t.fuel_used), (4, 1, 40));
        assert_eq!(t.live_instances, 0, "an ended worker's instances are gone");
        // a dies: what it reported stays; what it counted after is lost.
        let _instance = a.instance();
        let t = reports.collect().await;
        assert_eq!(t.live_instances, 1);
        a.failure("trap");
        drop(ra);
        let t = reports.collect().await;
        assert_eq!((t.failures[0], t.live_instances), (4, 0));
    }

    #[tokio::test]
    async fn an_older_or_unreadable_answer_is_not_kept() {
        let reports = Arc::new(Reports::default());
        let metrics = Arc::new(Metrics::default());
        let r = reports.join(worker(metrics.clone()).await, names(&[]));
        metrics.failure("stack");
        assert_eq!(reports.collect().await.failures[4], 1);
        let stale = Report {
            seq: 1,
            tally: Tally::default(),
        };
        reports.lock().keep(r.id, stale);
        assert_eq!(reports.collect().await.failures[4], 1, "seq 1 is older");
        drop(r);
        // A server that answers without the header (not a worker's report) is not read.
        let sender = connected(|_req| {
            let body = Full::new(Bytes::from("live 9\n"))
                .map_err(|n| match n {})
                .boxed_unsync();
            Response::new(body)
        })
        .await;
        assert!(ask(sender).await.is_none());
    }
}
