//! Response bodies in flight: one keeps its connection busy until it ends ([`Held`]), and
//! one whose guest may still fail ends only once the guest has, abnormally if it failed
//! ([`Settled`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::failure::failure_kind;

/// How a guest that was still running when its response head went out ended (a failure is
/// already logged by whoever sends it).
pub type Outcome = anyhow::Result<()>;

/// A body that holds `guard` until the body ends, fails or is dropped.
pub struct Held<B, G> {
    inner: B,
    guard: Option<G>,
}

impl<B, G> Held<B, G> {
    /// Wraps `inner`, holding `guard` while it is in flight.
    pub fn new(inner: B, guard: G) -> Self {
        Self {
            inner,
            guard: Some(guard),
        }
    }
}

impl<B: Body + Unpin, G: Unpin> Body for Held<B, G> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            this.guard = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A guard that runs its function once, when dropped: with [`Held`], code that runs as a
/// body ends, fails or is dropped.
pub struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> OnDrop<F> {
    /// A guard that runs `f` when dropped.
    pub fn new(f: F) -> Self {
        Self(Some(f))
    }
}

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// What the access log needs to say a response body was cut.
pub struct CutLog {
    /// The request id.
    pub id: Arc<str>,
    /// The component's name.
    pub component: Arc<str>,
    /// The status already sent.
    pub status: u16,
}

impl CutLog {
    fn log(&self, kind: &str) {
        tracing::warn!(
            target: crate::access::ACCESS_TARGET,
            request_id = %self.id,
            outcome = "cut",
            component = %self.component,
            status = self.status,
            kind,
            "the component failed after its response head was sent: the body was cut"
        );
    }
}

/// A guest's response body that ends only once the guest has: cleanly if it finished,
/// abnormally if it failed (HTTP/1.1 closes without the final chunk; HTTP/2 resets the
/// stream), so a failure never looks like a success to the client.
pub struct Settled {
    inner: HyperOutgoingBody,
    outcome: Option<oneshot::Receiver<Outcome>>,
    /// Set once `inner` ended (`None`) or failed (`Some`), while the outcome is awaited.
    ended: Option<Option<wasmtime_wasi_http::Error>>,
    log: CutLog,
}

impl Settled {
    /// Wraps `inner`, whose guest reports its end on `outcome`.
    pub fn new(inner: HyperOutgoingBody, outcome: oneshot::Receiver<Outcome>, log: CutLog) -> Self {
        Self {
            inner,
            outcome: Some(outcome),
            ended: None,
            log,
        }
    }

    /// Makes a response's body settle on `outcome`. Its length is left open, so that a
    /// failure can still show: a complete `content-length` body would read as a success.
    pub fn response(
        resp: hyper::Response<HyperOutgoingBody>,
        outcome: oneshot::Receiver<Outcome>,
        log: CutLog,
    ) -> hyper::Response<HyperOutgoingBody> {
        use http_body_util::BodyExt;
        let (mut parts, body) = resp.into_parts();
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        let body = Self::new(body, outcome, log).boxed_unsync();
        hyper::Response::from_parts(parts, body)
    }
}

/// The error that cuts a body whose guest failed.
fn cut() -> wasmtime_wasi_http::Error {
    wasmtime_wasi_http::Error::InternalError(Some(
        "the component failed after its response head was sent".into(),
    ))
}

impl Body for Settled {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.ended.is_none() {
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => return Poll::Ready(Some(Ok(frame))),
                Some(Err(e)) => this.ended = Some(Some(e)),
                None => this.ended = Some(None),
            }
        }
        let Some(outcome) = this.outcome.as_mut() else {
            return Poll::Ready(None);
        };
        // A closed channel means the guest's task was dropped before it could say.
        let kind = match ready!(Pin::new(outcome).poll(cx)) {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(failure_kind(&e)),
            Err(_) => Some("trap"),
        };
        this.outcome = None;
        match (kind, this.ended.take().flatten()) {
            (None, None) => Poll::Ready(None),
            (None, Some(e)) => {
                this.log.log("body");
                Poll::Ready(Some(Err(e)))
            }
            (Some(kind), e) => {
                this.log.log(kind);
                Poll::Ready(Some(Err(e.unwrap_or_else(cut))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.outcome.is_none() && self.ended.is_some()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = SizeHint::new();
        hint.set_lower(self.inner.size_hint().lower());
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    fn body(text: &'static str) -> HyperOutgoingBody {
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync()
    }

    fn log() -> CutLog {
        CutLog {
            id: "1".into(),
            component: "c".into(),
            status: 200,
        }
    }

    #[tokio::test]
    async fn a_body_ends_only_once_its_guest_has() {
        let (tx, rx) = oneshot::channel();
        let mut settled = Settled::new(body("part"), rx, log());
        let first = settled.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "part");
        let waiting = tokio::spawn(async move { settled.frame().await.is_none() });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "ended before the guest did");
        tx.send(Ok(())).unwrap();
        assert!(
            waiting.await.unwrap(),
            "a finished guest's body ends cleanly"
        );
    }

    #[tokio::test]
    async fn a_failed_guest_cuts_its_body() {
        let (tx, rx) = oneshot::channel();
        let mut settled = Settled::new(body("part"), rx, log());
        settled.frame().await.unwrap().unwrap();
        tx.send(Err(anyhow::anyhow!("trapped"))).unwrap();
        assert!(matches!(settled.frame().await, Some(Err(_))));
        // A guest dropped before it said how it ended counts as failed too.
        let (tx, rx) = oneshot::channel::<Outcome>();
        let mut settled = Settled::new(body(""), rx, log());
        drop(tx);
        assert!(matches!(settled.frame().await, Some(Err(_))));
    }

    #[tokio::test]
    async fn a_held_guard_is_released_when_the_body_ends() {
        let guard = Arc::new(());
        let mut held = Held::new(body("x"), guard.clone());
        held.frame().await.unwrap().unwrap();
        assert_eq!(Arc::strong_count(&guard), 2, "released while in flight");
        assert!(held.frame().await.is_none());
        assert_eq!(Arc::strong_count(&guard), 1, "held past the end");
        let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = ran.clone();
        let on_end = OnDrop::new(move || {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        let mut held = Held::new(body("x"), on_end);
        held.frame().await.unwrap().unwrap();
        assert_eq!(ran.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert!(held.frame().await.is_none());
        drop(held);
        assert_eq!(
            ran.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "run once"
        );
    }
}
