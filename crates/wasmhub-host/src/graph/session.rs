//! One request's (or call's) instances of the link targets, made on first use.

use std::sync::{Arc, Mutex, Weak};

use anyhow::{Context, Result, bail};
use tokio::sync::Notify;
use wasmtime::component::{ComponentExportIndex, Func, Instance, ResourceAny, Val};

use super::actor::Actor;
use super::driver::{Driver, Loops};
use super::{Graph, Node};
use crate::{Lane, MeteredStore};

/// A live instance of a link target, in its own store with its own grants and budget.
pub(super) struct Live {
    pub m: MeteredStore,
    pub instance: Instance,
    /// Functions looked up so far, by the id of the link function that calls them.
    funcs: Vec<(u32, Func)>,
}

impl Live {
    /// The export `index` (called through link function `id`), looked up once.
    pub fn func(&mut self, id: u32, index: ComponentExportIndex) -> Option<Func> {
        if let Some((_, f)) = self.funcs.iter().find(|(i, _)| *i == id) {
            return Some(*f);
        }
        let f = self.instance.get_func(&mut self.m.store, index)?;
        self.funcs.push((id, f));
        Some(f)
    }
}

enum Slot {
    Empty,
    Ready(Box<Live>),
    Busy,
    /// A WASI 0.3 target, taking concurrent calls on its own event loop.
    Running(Arc<Actor>),
}

/// The link targets' instances for one request, shared by every component in it.
pub struct Session {
    graph: Arc<Graph>,
    slots: Box<[Mutex<Slot>]>,
    /// Wakes callers waiting for a 0.2 target that another call is using.
    freed: Notify,
    /// The event loops of its 0.3 targets.
    pub(super) loops: Loops,
    /// The request's lane: its targets' ticks count with its root's.
    lane: Lane,
}

impl Session {
    /// A session with no instances yet.
    pub(super) fn new(graph: Arc<Graph>, lane: Lane) -> Arc<Self> {
        let slots = (0..graph.names.len())
            .map(|_| Mutex::new(Slot::Empty))
            .collect();
        Arc::new(Self {
            graph,
            slots,
            freed: Notify::new(),
            loops: Loops::default(),
            lane,
        })
    }

    /// Calls target `i`'s export `export` (link function `id`) with `params`.
    pub(super) async fn call(
        self: &Arc<Self>,
        i: usize,
        id: u32,
        export: ComponentExportIndex,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        if self.node(i)?.wasi3 {
            let actor = self.actor(i)?;
            let values = actor.call(export, params.to_vec(), results.len()).await?;
            for (slot, v) in results.iter_mut().zip(values) {
                *slot = v;
            }
            return Ok(());
        }
        let mut live = self.take(i).await?;
        let called = async {
            let func = live
                .func(id, export)
                .context("the linked export is not a function")?;
            func.call_async(&mut live.m.store, params, results)
                .await
                .map_err(anyhow::Error::from)
        }
        .await;
        let called = called.map_err(|e| live.m.explain(e));
        live.put_back();
        called
    }

    /// Target `i`'s running instance, started on first use.
    fn actor(self: &Arc<Self>, i: usize) -> Result<Arc<Actor>> {
        let mut slot = self.slots[i].lock().unwrap();
        if let Slot::Running(actor) = &*slot {
            return Ok(actor.clone());
        }
        let node = self.node(i)?;
        let made = instantiate(self, i, node.clone());
        let (actor, running) = Actor::start(made, node.budget.deadline);
        let actor = Arc::new(actor);
        *slot = Slot::Running(actor.clone());
        self.loops.add(running);
        Ok(actor)
    }

    /// Takes target `i`'s instance out for a call, instantiating it on first use (and waiting
    /// while a concurrent caller uses it). Dropped before [`Taken::put_back`] (its caller
    /// cancelled mid-call), the slot is left empty: the next call gets a fresh instance.
    pub(super) async fn take(self: &Arc<Self>, i: usize) -> Result<Taken> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let prev = std::mem::replace(&mut *self.slots[i].lock().unwrap(), Slot::Busy);
            match prev {
                Slot::Ready(live) => return Ok(Taken::new(self, i, Some(live))),
                Slot::Busy => freed.await,
                Slot::Running(actor) => {
                    *self.slots[i].lock().unwrap() = Slot::Running(actor);
                    bail!(
                        "internal error: component \"{}\" runs WASI 0.3 calls on its own loop",
                        self.graph.names[i]
                    );
                }
                Slot::Empty => {
                    // Claims the slot while instantiating: a failure or a drop empties it.
                    let mut taken = Taken::new(self, i, None);
                    taken.live = Some(instantiate(self, i, self.node(i)?.clone()).await?);
                    return Ok(taken);
                }
            }
        }
    }

    /// The name of component `i`.
    pub(super) fn name(&self, i: usize) -> &str {
        &self.graph.names[i]
    }

    fn node(&self, i: usize) -> Result<&Node> {
        self.graph.nodes[i]
            .as_ref()
            .context("internal error: a link names a component without an instance template")
    }
}

/// A fresh instance of link target `i` (`node`) in its own store, calling on through
/// `session`, in the session's lane.
fn instantiate(
    session: &Arc<Session>,
    i: usize,
    node: Node,
) -> impl Future<Output = Result<Box<Live>>> + Send + 'static {
    let engine = session.graph.engine.clone();
    let weak = Arc::downgrade(session);
    let name = session.graph.names[i].clone();
    let lane = session.lane.clone();
    async move {
        let mut m = MeteredStore::with_state(
            &engine,
            &node.grants,
            &node.budget,
            lane,
            &node.state,
            &node.preopens,
        )?;
        m.store.data_mut().links.session = weak;
        match node.pre.instantiate_async(&mut m.store).await {
            Ok(instance) => Ok(Box::new(Live {
                m,
                instance,
                funcs: Vec::new(),
            })),
            Err(e) => Err(m.explain(e.into()))
                .with_context(|| format!("failed to instantiate linked component \"{name}\"")),
        }
    }
}

/// A 0.2 target's instance taken out of its slot for one call, or the claim on the empty
/// slot while it is made. Put back, the next call uses it; dropped (the call cancelled, or
/// the instance failed to start), the slot is emptied and waiting callers are woken.
pub(super) struct Taken {
    session: Arc<Session>,
    i: usize,
    live: Option<Box<Live>>,
}

impl Taken {
    fn new(session: &Arc<Session>, i: usize, live: Option<Box<Live>>) -> Self {
        Self {
            session: session.clone(),
            i,
            live,
        }
    }

    /// Puts the instance back for the next call.
    pub fn put_back(mut self) {
        if let Some(live) = self.live.take() {
            *self.session.slots[self.i].lock().unwrap() = Slot::Ready(live);
            self.session.freed.notify_waiters();
        }
    }
}

impl std::ops::Deref for Taken {
    type Target = Live;

    fn deref(&self) -> &Live {
        self.live.as_ref().expect("a taken slot holds its instance")
    }
}

impl std::ops::DerefMut for Taken {
    fn deref_mut(&mut self) -> &mut Live {
        self.live.as_mut().expect("a taken slot holds its instance")
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        // Not put back: an instance whose call was cut off mid-way is in no state to take
        // the next one (Wasmtime leaves it mid-call), so it goes with this; the next call
        // makes a fresh one.
        let mut slot = self.session.slots[self.i]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if matches!(*slot, Slot::Busy) {
            *slot = Slot::Empty;
            drop(slot);
            self.session.freed.notify_waiters();
        }
    }
}

/// What a store needs to make calls through links: its session and the proxies it holds.
#[derive(Default)]
pub struct LinkCtx {
    /// The session the calls go to (weak: the session owns the targets' stores).
    session: Weak<Session>,
    /// Keeps the session alive in the store of the component a request started with.
    _owner: Option<Arc<Session>>,
    /// Target-side resources this store holds handles to, by the handle's rep.
    proxies: Vec<Option<ResourceAny>>,
    free: Vec<u32>,
}

impl LinkCtx {
    /// A context that starts a session of `graph` (for the component a request starts with).
    pub fn root(graph: &Arc<Graph>, lane: Lane) -> Self {
        let session = Session::new(graph.clone(), lane);
        Self {
            session: Arc::downgrade(&session),
            _owner: Some(session),
            ..Self::default()
        }
    }

    /// For the store a request starts with: what polls its link targets' loops.
    pub fn driver(&self) -> Option<Driver> {
        self._owner.clone().map(Driver)
    }

    pub(super) fn session(&self) -> Result<Arc<Session>> {
        self.session
            .upgrade()
            .context("a call through a link outlived its request")
    }

    /// Keeps `res` (a target-side resource) and returns the rep of its proxy.
    pub(super) fn insert(&mut self, res: ResourceAny) -> u32 {
        match self.free.pop() {
            Some(rep) => {
                self.proxies[rep as usize] = Some(res);
                rep
            }
            None => {
                self.proxies.push(Some(res));
                (self.proxies.len() - 1) as u32
            }
        }
    }

    /// The target-side resource behind proxy `rep`.
    pub(super) fn get(&self, rep: u32) -> Result<ResourceAny> {
        self.proxies
            .get(rep as usize)
            .copied()
            .flatten()
            .context("unknown resource handle passed through a link")
    }

    /// Removes proxy `rep`, returning the target-side resource (its ownership moves on).
    pub(super) fn remove(&mut self, rep: u32) -> Result<ResourceAny> {
        let res = self
            .proxies
            .get_mut(rep as usize)
            .and_then(Option::take)
            .context("unknown resource handle passed through a link")?;
        self.free.push(rep);
        Ok(res)
    }
}
