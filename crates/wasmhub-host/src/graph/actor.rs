//! A WASI 0.3 link target's instance: its own store and event loop, running every call
//! made to it concurrently, so a caller that awaits two calls at once waits for the slower.
//! The loop is polled by the request's task (see `driver`).
//!
//! Calls are bounded: at most [`IN_FLIGHT`] run at once and [`QUEUED`] more wait in the
//! queue; past that a caller waits for room (backpressure, bounded by the request's deadline).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};
use wasmhub_core::Exceeded;
use wasmtime::component::{Accessor, ComponentExportIndex, Instance, Val};

use super::session::Live;
use crate::HostState;

/// Calls one target runs at once.
pub(super) const IN_FLIGHT: usize = 64;

/// Calls that may wait for one of the [`IN_FLIGHT`] places.
pub(super) const QUEUED: usize = 64;

/// One call queued for the target.
struct Call {
    export: ComponentExportIndex,
    params: Vec<Val>,
    results: usize,
    reply: oneshot::Sender<Result<Vec<Val>>>,
}

/// Why the instance stopped taking calls (shared by every call it then fails).
type Ended = Arc<anyhow::Error>;

/// An ended instance's error, for one of its callers: the original error's message and
/// causes, kept as a chain.
#[derive(Debug)]
struct Stopped(Ended);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&**self.0, f)
    }
}

impl std::error::Error for Stopped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The handle a session keeps to send calls to the instance.
pub(super) struct Actor {
    calls: mpsc::Sender<Call>,
    ended: Arc<Mutex<Option<Ended>>>,
}

impl Actor {
    /// The instance `made` produces, and its loop to poll; calls sent before it is ready
    /// wait for it.
    pub fn start(
        made: impl Future<Output = Result<Box<Live>>> + Send + 'static,
        deadline: Option<std::time::Duration>,
    ) -> (Self, BoxFuture<'static, ()>) {
        let (calls, rx) = mpsc::channel(QUEUED);
        let ended = Arc::new(Mutex::new(None));
        let end = ended.clone();
        let started = Instant::now();
        let running = async move {
            let why = match made.await {
                Ok(live) => run(live, rx, deadline.map(|d| started + d)).await,
                Err(e) => e,
            };
            *end.lock().unwrap() = Some(Arc::new(why));
        };
        (Self { calls, ended }, Box::pin(running))
    }

    /// Calls export `export` with `params`, returning its `results` values.
    pub async fn call(
        &self,
        export: ComponentExportIndex,
        params: Vec<Val>,
        results: usize,
    ) -> Result<Vec<Val>> {
        let (reply, answer) = oneshot::channel();
        let sent = self
            .calls
            .send(Call {
                export,
                params,
                results,
                reply,
            })
            .await;
        match (sent, answer.await) {
            (Ok(()), Ok(r)) => r,
            _ => Err(match self.ended.lock().unwrap().clone() {
                // A budget error stays itself, so the response names the budget.
                Some(why) => match why.downcast_ref::<Exceeded>() {
                    Some(x) => x.clone().into(),
                    None => Stopped(why).into(),
                },
                None => anyhow!("the instance stopped"),
            }),
        }
    }
}

/// Runs calls until the session drops the actor, the instance fails or the deadline passes.
async fn run(
    mut live: Box<Live>,
    mut calls: mpsc::Receiver<Call>,
    deadline: Option<Instant>,
) -> anyhow::Error {
    let instance = live.instance;
    let looped = live.m.store.run_concurrent(async |a| -> Result<()> {
        take_calls(&mut calls, IN_FLIGHT, |call| answer(a, instance, call)).await;
        Ok(())
    });
    let outcome = match deadline {
        Some(at) => tokio::time::timeout_at(at.into(), looped).await,
        None => Ok(looped.await),
    };
    match outcome {
        Ok(Ok(Ok(()))) => anyhow!("the request ended"),
        Ok(Ok(Err(e))) => e,
        // As a budget the instance exceeded when one caused it.
        Ok(Err(e)) => live.m.explain(e.into()),
        Err(_) => live.m.explain(wasmhub_core::DeadlinePassed.into()),
    }
}

/// Runs each call `calls` brings as `run(call)`, at most `limit` at once (the rest wait in the
/// channel), all on this task; returns when the channel closes.
async fn take_calls<C, F: Future<Output = ()>>(
    calls: &mut mpsc::Receiver<C>,
    limit: usize,
    run: impl Fn(C) -> F,
) {
    let mut running = FuturesUnordered::new();
    loop {
        tokio::select! {
            call = calls.recv(), if running.len() < limit => match call {
                Some(call) => running.push(run(call)),
                None => return,
            },
            Some(()) = running.next(), if !running.is_empty() => {}
        }
    }
}

/// Makes one call on the target's event loop and sends its answer.
async fn answer(a: &Accessor<HostState>, instance: Instance, call: Call) {
    let answer = async {
        let func = a
            .with(|mut s| instance.get_func(&mut s, call.export))
            .context("the linked export is not a function")?;
        let mut results = vec![Val::Bool(false); call.results];
        func.call_concurrent(a, &call.params, &mut results).await?;
        Ok(results)
    }
    .await;
    let _ = call.reply.send(answer);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    type Wait = oneshot::Receiver<()>;

    /// Queues a call that runs until its sender in `release` is used or dropped.
    fn queue(
        tx: &mpsc::Sender<Wait>,
        release: &mut Vec<oneshot::Sender<()>>,
    ) -> Result<(), mpsc::error::TrySendError<Wait>> {
        let (done, wait) = oneshot::channel();
        release.push(done);
        tx.try_send(wait)
    }

    #[tokio::test]
    async fn calls_beyond_the_bounds_wait_for_room() {
        let (tx, mut rx) = mpsc::channel::<Wait>(2);
        let started = Arc::new(AtomicUsize::new(0));
        let count = started.clone();
        let mut release = Vec::new();
        for _ in 0..2 {
            queue(&tx, &mut release).unwrap();
        }
        let taker = tokio::spawn(async move {
            take_calls(&mut rx, 2, |wait| {
                count.fetch_add(1, Ordering::SeqCst);
                async move {
                    let _ = wait.await;
                }
            })
            .await;
        });
        while started.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        // Two run, two wait in the queue, the fifth finds it full.
        for _ in 0..2 {
            queue(&tx, &mut release).unwrap();
        }
        assert!(
            matches!(
                queue(&tx, &mut release),
                Err(mpsc::error::TrySendError::Full(_))
            ),
            "a full queue refuses more"
        );
        assert_eq!(started.load(Ordering::SeqCst), 2, "only two run at once");
        // One finishes: the next starts.
        let _ = release.remove(0).send(());
        while started.load(Ordering::SeqCst) < 3 {
            tokio::task::yield_now().await;
        }
        drop((release, tx));
        taker.await.unwrap();
    }
}
