//! A WASI 0.3 link target's instance: its own store and event loop, running every call
//! made to it concurrently, so a caller that awaits two calls at once waits for the slower.
//! The loop is polled by the request's task (see `driver`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use wasmhub_core::Exceeded;
use wasmtime::component::{Accessor, AccessorTask, ComponentExportIndex, Instance, Val};

use super::session::Live;
use crate::HostState;

/// One call queued for the target.
struct Call {
    export: ComponentExportIndex,
    params: Vec<Val>,
    results: usize,
    reply: oneshot::Sender<Result<Vec<Val>>>,
}

/// Why the instance stopped taking calls.
enum Ended {
    Budget(Exceeded),
    Failed(String),
}

/// The handle a session keeps to send calls to the instance.
pub(super) struct Actor {
    calls: mpsc::UnboundedSender<Call>,
    ended: Arc<Mutex<Option<Ended>>>,
}

impl Actor {
    /// The instance `made` produces, and its loop to poll; calls sent before it is ready
    /// wait for it.
    pub fn start(
        made: impl Future<Output = Result<Box<Live>>> + Send + 'static,
        deadline: Option<std::time::Duration>,
    ) -> (Self, BoxFuture<'static, ()>) {
        let (calls, rx) = mpsc::unbounded_channel();
        let ended = Arc::new(Mutex::new(None));
        let end = ended.clone();
        let started = Instant::now();
        let running = async move {
            let why = match made.await {
                Ok(live) => run(live, rx, deadline.map(|d| started + d)).await,
                Err(e) => Ended::Failed(format!("{e:#}")),
            };
            *end.lock().unwrap() = Some(why);
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
        let sent = self.calls.send(Call {
            export,
            params,
            results,
            reply,
        });
        match (sent, answer.await) {
            (Ok(()), Ok(r)) => r,
            _ => Err(match &*self.ended.lock().unwrap() {
                Some(Ended::Budget(x)) => x.clone().into(),
                Some(Ended::Failed(why)) => anyhow!("{why}"),
                None => anyhow!("the instance stopped"),
            }),
        }
    }
}

/// Runs calls until the session drops the actor, the instance fails or the deadline passes.
async fn run(
    mut live: Box<Live>,
    mut calls: mpsc::UnboundedReceiver<Call>,
    deadline: Option<Instant>,
) -> Ended {
    let instance = live.instance;
    let looped = live.m.store.run_concurrent(async |a| -> Result<()> {
        while let Some(call) = calls.recv().await {
            a.spawn(Running { call, instance })?;
        }
        Ok(())
    });
    let outcome = match deadline {
        Some(at) => tokio::time::timeout_at(at.into(), looped).await,
        None => Ok(looped.await),
    };
    match outcome {
        Ok(Ok(Ok(()))) => Ended::Failed("the request ended".into()),
        Ok(Ok(Err(e))) => Ended::Failed(format!("{e:#}")),
        Ok(Err(e)) => ended(&live.m, e.into()),
        Err(_) => ended(&live.m, wasmhub_core::DeadlinePassed.into()),
    }
}

/// `err` as a budget the instance exceeded, or as the failure it is.
fn ended(m: &crate::MeteredStore, err: anyhow::Error) -> Ended {
    match m.explain(err).downcast::<Exceeded>() {
        Ok(x) => Ended::Budget(x),
        Err(e) => Ended::Failed(format!("{e:#}")),
    }
}

/// One call on the target's event loop.
struct Running {
    call: Call,
    instance: Instance,
}

impl AccessorTask<HostState> for Running {
    async fn run(self, a: &Accessor<HostState>) -> wasmtime::Result<()> {
        let Running { call, instance } = self;
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
        Ok(())
    }
}
