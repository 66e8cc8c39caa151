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
        {
            let mut added = self.added.lock().unwrap();
            if !added.1.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                added.1 = Some(cx.waker().clone());
            }
        }
        // Only the root's task polls; a second poller would just wait for its turn (and the
        // loops added meanwhile stay in `added` for the one that holds the lock).
        let Ok(mut running) = self.running.try_lock() else {
            return;
        };
        loop {
            let fresh = std::mem::take(&mut self.added.lock().unwrap().0);
            let none_new = fresh.is_empty();
            running.extend(fresh);
            while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
            // A loop polled just now may have started another: take it up too.
            if none_new && self.added.lock().unwrap().0.is_empty() {
                break;
            }
        }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn a_loop_added_while_another_poller_holds_the_loops_is_kept() {
        let loops = Loops::default();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let held = loops.running.lock().unwrap();
        loops.add(Box::pin(async move { flag.store(true, Ordering::SeqCst) }));
        let mut cx = Context::from_waker(Waker::noop());
        // Another poller holds the running loops: this poll must leave the new loop be.
        loops.poll(&mut cx);
        drop(held);
        loops.poll(&mut cx);
        assert!(
            ran.load(Ordering::SeqCst),
            "the loop added meanwhile was dropped"
        );
    }
}
