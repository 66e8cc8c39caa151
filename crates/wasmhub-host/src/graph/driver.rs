//! The event loops of a request's WASI 0.3 link targets, polled by the request's own task.
//!
//! Wasmtime runs one event loop per thread at a time (a loop polled inside another panics),
//! and a task per loop costs a wake-up of another thread at every hop. So the loops sit
//! beside the root component's call and the root's task polls them between polls of its own
//! loop: a chain of calls stays on one thread.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;

use super::Session;

/// Loops waiting to be polled.
#[derive(Default)]
pub(super) struct Loops {
    /// Loops started since the last poll, and the waker of the task that polls them.
    added: Mutex<(Vec<BoxFuture<'static, ()>>, Option<Waker>)>,
    running: Mutex<FuturesUnordered<BoxFuture<'static, ()>>>,
}

impl Loops {
    /// Adds a loop; the polling task is woken to take it up.
    pub fn add(&self, run: BoxFuture<'static, ()>) {
        let mut added = self.added.lock().unwrap();
        added.0.push(run);
        if let Some(w) = added.1.take() {
            w.wake();
        }
    }

    /// Polls every loop once it has something to do; pending while any is alive (or none is).
    fn poll(&self, cx: &mut Context<'_>) {
        let fresh = {
            let mut added = self.added.lock().unwrap();
            if !added.1.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                added.1 = Some(cx.waker().clone());
            }
            std::mem::take(&mut added.0)
        };
        // Only the root's task polls; a second poller would just wait for its turn.
        let Ok(mut running) = self.running.try_lock() else {
            return;
        };
        running.extend(fresh);
        while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
    }
}

/// What the root's task holds to poll its session's loops.
#[derive(Clone)]
pub struct Driver(pub(super) Arc<Session>);

impl Driver {
    /// Runs `call` (the root component's call) while polling the link targets' loops.
    pub async fn run<F: Future>(driver: Option<&Self>, call: F) -> F::Output {
        let Some(d) = driver else {
            return call.await;
        };
        let mut call = pin!(call);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = call.as_mut().poll(cx) {
                return Poll::Ready(v);
            }
            d.poll(cx);
            Poll::Pending
        })
        .await
    }

    /// Polls the loops once (for a caller that polls beside a loop it does not own).
    pub fn poll(&self, cx: &mut Context<'_>) {
        self.0.loops.poll(cx);
    }
}
