//! One request's (or call's) instances of the link targets, made on first use.

use std::sync::{Arc, Mutex, Weak};

use anyhow::{Context, Result, bail};
use tokio::sync::Notify;
use wasmtime::Engine;
use wasmtime::component::{ComponentExportIndex, Func, Instance, ResourceAny, Val};

use super::actor::Actor;
use super::driver::{Driver, Loops};
use super::{Graph, Node};
use crate::MeteredStore;

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
}

impl Session {
    /// A session with no instances yet.
    pub(super) fn new(graph: Arc<Graph>) -> Arc<Self> {
        let slots = (0..graph.names.len())
            .map(|_| Mutex::new(Slot::Empty))
            .collect();
        Arc::new(Self {
            graph,
            slots,
            freed: Notify::new(),
            loops: Loops::default(),
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
        self.put(i, live);
        called
    }

    /// Target `i`'s running instance, started on first use.
    fn actor(self: &Arc<Self>, i: usize) -> Result<Arc<Actor>> {
        let mut slot = self.slots[i].lock().unwrap();
        if let Slot::Running(actor) = &*slot {
            return Ok(actor.clone());
        }
        let node = self.node(i)?;
        let made = instantiate(
            self.graph.engine.clone(),
            node.clone(),
            Arc::downgrade(self),
            self.graph.names[i].clone(),
        );
        let (actor, running) = Actor::start(made, node.budget.deadline);
        let actor = Arc::new(actor);
        *slot = Slot::Running(actor.clone());
        self.loops.add(running);
        Ok(actor)
    }

    /// Takes target `i`'s instance out for a call, instantiating it on first use (and waiting
    /// while a concurrent caller uses it).
    pub(super) async fn take(self: &Arc<Self>, i: usize) -> Result<Box<Live>> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let prev = std::mem::replace(&mut *self.slots[i].lock().unwrap(), Slot::Busy);
            match prev {
                Slot::Ready(live) => return Ok(live),
                Slot::Busy => freed.await,
                Slot::Running(actor) => {
                    *self.slots[i].lock().unwrap() = Slot::Running(actor);
                    bail!(
                        "internal error: component \"{}\" runs WASI 0.3 calls on its own loop",
                        self.graph.names[i]
                    );
                }
                Slot::Empty => {
                    let made = instantiate(
                        self.graph.engine.clone(),
                        self.node(i)?.clone(),
                        Arc::downgrade(self),
                        self.graph.names[i].clone(),
                    )
                    .await;
                    if made.is_err() {
                        *self.slots[i].lock().unwrap() = Slot::Empty;
                        self.freed.notify_waiters();
                    }
                    return made;
                }
            }
        }
    }

    /// Puts target `i`'s instance back after a call.
    pub(super) fn put(&self, i: usize, live: Box<Live>) {
        *self.slots[i].lock().unwrap() = Slot::Ready(live);
        self.freed.notify_waiters();
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

/// A fresh instance of link target `node` in its own store, calling on through `session`.
async fn instantiate(
    engine: Engine,
    node: Node,
    session: Weak<Session>,
    name: String,
) -> Result<Box<Live>> {
    let mut m = MeteredStore::new(&engine, &node.grants, &node.budget)?;
    m.store.data_mut().links.session = session;
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
    pub fn root(graph: &Arc<Graph>) -> Self {
        let session = Session::new(graph.clone());
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
