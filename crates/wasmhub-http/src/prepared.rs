//! An app made ready to serve: every component compiled, checked and pre-linked once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use wasmhub_app::App;
use wasmhub_core::{CompileCache, Engines};
use wasmhub_host::Graph;
use wasmtime::Engine;
use wasmtime::component::Linker;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::slots::{Limit, component_cap};
use crate::state::ServeState;
use crate::store::Recipe;
use wasmhub_host::Lanes;

/// How a served component handles requests: a fresh instance per request either way,
/// unless it opts into reuse.
pub enum Handler {
    /// A `wasi:http/incoming-handler@0.2.x` component.
    P2(crate::p2::P2),
    /// A `wasi:http/handler@0.3.x` component, through Wasmtime's handler.
    P3(Arc<crate::p3::Handler>),
    /// A component of a tenant in worker processes (`isolation = "process"`): forwarded.
    Worker(Arc<crate::worker::Pool>),
}

/// One served component: how it handles requests and what its instances are made from.
pub struct Served {
    /// Its name.
    pub name: Arc<str>,
    /// Its route, as written.
    pub route: String,
    /// Its handler.
    pub handler: Handler,
    /// What each instance is made from.
    pub recipe: Arc<Recipe>,
    /// Its cap on instances alive at once.
    pub instances: Limit,
    /// A request's wall-clock limit: its budget's deadline, never past `--request-timeout`.
    pub deadline: Duration,
}

/// The whole app, ready for requests.
pub struct PreparedApp {
    /// The app as resolved.
    pub app: App,
    /// Its components, in `app.components` order (unrouted ones too).
    pub served: Vec<Option<Served>>,
}

impl PreparedApp {
    /// The component whose route matches `path`.
    pub fn route(&self, path: &str) -> Option<&Served> {
        self.app.route(path).and_then(|i| self.served[i].as_ref())
    }

    /// The component routed at `path` that cannot run yet, and why (see `App::unavailable`).
    pub fn unavailable(&self, path: &str) -> Option<(&str, &str)> {
        let c = &self.app.components[self.app.route(path)?];
        let why = self.app.unavailable.get(&c.name)?;
        Some((c.name.as_str(), why.as_str()))
    }
}

/// A request's deadline: the budget's, never past the server's request timeout.
fn deadline(budget: &wasmhub_app::Budget, request_timeout: Duration) -> Duration {
    budget
        .deadline
        .map_or(request_timeout, |d| d.min(request_timeout))
}

/// Compiles (or maps from the cache) and pre-links every routed component on one engine;
/// fails before any socket is bound if one cannot be served.
pub fn prepare(
    engine: &Engine,
    cache: Option<&CompileCache>,
    app: App,
    options: &crate::ServeOptions,
) -> Result<PreparedApp> {
    prepare_on(&Engines::from(engine.clone()), cache, app, options)
}

/// [`prepare`], each component on its engine of `engines`.
pub fn prepare_on(
    engines: &Engines,
    cache: Option<&CompileCache>,
    app: App,
    options: &crate::ServeOptions,
) -> Result<PreparedApp> {
    let serve_budget = |c: &wasmhub_app::AppComponent| c.budget.with_serve_defaults();
    let mut load = |engine: &Engine, c: &wasmhub_app::AppComponent| {
        wasmhub_host::load_checked_code(engine, cache, c, &serve_budget(c))
            .map(|loaded| (loaded.component, loaded.digest))
    };
    prepare_with(engines, app, options, &mut load, Arc::default())
}

/// Loads a component's code on the given engine: the code and the sha256 of its bytes.
pub(crate) type Load<'a> = dyn FnMut(&Engine, &wasmhub_app::AppComponent) -> Result<(wasmtime::component::Component, String)>
    + 'a;

/// [`prepare`], with each component's code from `load` and instances paced in `lanes`
/// (a reload passes the running generation's, and code it already holds).
pub(crate) fn prepare_with(
    engines: &Engines,
    app: App,
    options: &crate::ServeOptions,
    load: &mut Load<'_>,
    lanes: Arc<Lanes>,
) -> Result<PreparedApp> {
    app.check_isolation()?;
    let request_timeout = options.request_timeout;
    let runs = |c: &wasmhub_app::AppComponent| !app.unavailable.contains_key(&c.name);
    let roots: Vec<usize> = (0..app.components.len())
        .filter(|&i| app.components[i].route.is_some() && runs(&app.components[i]))
        .collect();
    let cap = |c: &wasmhub_app::AppComponent| {
        component_cap(
            c.budget.instances,
            options.max_component_instances,
            options.max_instances,
            roots.len(),
        )
    };
    let serve_budget = |c: &wasmhub_app::AppComponent| c.budget.with_serve_defaults();
    let mut pools = crate::worker::Pools::default();
    // One graph (and linker) per engine: components linked to each other share one.
    let mut parts: Vec<Part> = Vec::new();
    let mut part_of = vec![usize::MAX; app.components.len()];
    for &r in &roots {
        let engine = engines.pick(&app, &app.components[r])?;
        let at = match parts.iter().position(|p| Engine::same(&p.engine, engine)) {
            Some(at) => at,
            None => {
                parts.push(Part {
                    engine: engine.clone(),
                    roots: Vec::new(),
                    linker: None,
                    graph: None,
                });
                parts.len() - 1
            }
        };
        parts[at].roots.push(r);
        part_of[r] = at;
    }
    let has3 = app
        .components
        .iter()
        .any(|c| c.wasi == wasmhub_app::WasiVersion::P3);
    // What each component was loaded as (a tenant's workers are given the same code).
    let mut code = std::collections::HashMap::new();
    for part in &mut parts {
        let engine = part.engine.clone();
        let wasi3 = engines.is_wasi3(&engine);
        part.linker = Some(serve_linker(&engine, has3 && wasi3)?);
        let mut load_here = |c: &wasmhub_app::AppComponent| {
            let (component, digest) = load(&engine, c)?;
            let loaded = crate::worker::Code {
                wasi3,
                digest,
                component: component.clone(),
            };
            code.insert(c.name.clone(), loaded);
            Ok(component)
        };
        part.graph = Some(Graph::build(
            &engine,
            &app,
            &part.roots,
            &mut load_here,
            &serve_budget,
        )?);
    }
    let mut served = Vec::new();
    for (i, c) in app.components.iter().enumerate() {
        let Some(route) = c.route.as_ref().filter(|_| runs(c)) else {
            served.push(None);
            continue;
        };
        let at = || wasmhub_host::describe_component(c);
        let part = &parts[part_of[i]];
        let (engine, graph) = (
            &part.engine,
            part.graph.as_ref().context("a graph per engine")?,
        );
        let linker = part.linker.as_ref().context("a linker per engine")?;
        let component = graph
            .component(i)
            .context("a routed component was not loaded")?;
        let exports_handler = component
            .component_type()
            .exports(engine)
            .any(|(n, _)| n.starts_with("wasi:http/incoming-handler@0.2."));
        let exports_p3 = crate::p3::exports_handler(engine, component);
        if !exports_handler && !exports_p3 {
            bail!(
                "{} cannot be served: it exports neither wasi:http/incoming-handler@0.2.x nor \
                 wasi:http/handler@0.3.x; build it as a wasi:http proxy (for example with the \
                 `wasip2` crate's http bindings), or remove its route",
                at()
            );
        }
        // A refusal already names the component, the import and the manifest line.
        let audit = wasmhub_host::admit(engine, component, &c.grants, &graph.linked_imports(i))
            .map_err(|e| {
                if e.is::<wasmhub_caps::NotGranted>() {
                    e
                } else {
                    e.context(at())
                }
            })?;
        for unused in &audit.unused {
            tracing::warn!(component = %c.name, "{unused}");
        }
        let linked = graph.has_links(i).then(|| graph.clone());
        let mut own_linker;
        let linker = match &linked {
            Some(g) => {
                own_linker = linker.clone();
                g.define(i, &mut own_linker).with_context(at)?;
                &own_linker
            }
            None => linker,
        };
        let instance_pre = linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .with_context(at)?;
        let budget = c.budget.with_serve_defaults();
        let recipe = Arc::new(Recipe {
            name: c.name.as_str().into(),
            grants: c.grants.clone(),
            // Opened once per generation; a sandboxed worker opens them before it locks
            // down, with its own opener (`wasmhub_caps::open_directories_with`).
            preopens: wasmhub_caps::Preopens::open(&c.grants)
                .map_err(anyhow::Error::from)
                .with_context(at)?,
            budget,
            outbound: c.grants.outbound.iter().map(|o| o.value.clone()).collect(),
            ungranted: wasmhub_host::Ungranted::of(&c.grants),
            state: wasmhub_state::ComponentState::of(&c.grants, budget.kv_ops)
                .map_err(anyhow::Error::from)
                .with_context(at)?,
            links: linked,
            lanes: lanes.clone(),
        });
        // A lone component's grants carry no name: metrics label its denials with this one.
        recipe.ungranted.denials().name_as(&c.name);
        let deadline = deadline(&budget, request_timeout);
        let reuse = crate::reuse::Policy::of(c.reuse, exports_p3, options.reuse_idle);
        let handler = if exports_p3 {
            let pre = wasmtime_wasi_http::p3::bindings::ServicePre::new(instance_pre)
                .map_err(anyhow::Error::from)
                .with_context(at)?;
            Handler::P3(crate::p3::handler(
                engine,
                pre,
                recipe.clone(),
                deadline,
                reuse,
            ))
        } else {
            Handler::P2(crate::p2::P2 {
                engine: engine.clone(),
                pre: ProxyPre::new(instance_pre)
                    .map_err(anyhow::Error::from)
                    .with_context(at)?,
                pool: reuse.map(crate::reuse::Pool::new),
            })
        };
        let handler = match &options.workers {
            Some(launcher) if c.isolation == wasmhub_app::Isolation::Process => Handler::Worker(
                pools.get(&app, &c.tenant, launcher, options.recycle_after, &code)?,
            ),
            _ => handler,
        };
        let one = Served {
            name: recipe.name.clone(),
            route: route.to_string(),
            handler,
            recipe,
            instances: Limit::new(cap(c)),
            deadline,
        };
        served.push(Some(one));
    }
    Ok(PreparedApp { app, served })
}

/// The routed components that run on one engine, and what they are linked with.
struct Part {
    engine: Engine,
    roots: Vec<usize>,
    linker: Option<Linker<ServeState>>,
    graph: Option<Arc<Graph>>,
}

/// The host functions every served component may import on `engine`; WASI 0.3's when
/// `wasi3` (the engine must support concurrency).
fn serve_linker(engine: &Engine, wasi3: bool) -> Result<Linker<ServeState>> {
    let mut linker: Linker<ServeState> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    if wasi3 {
        wasmtime_wasi::p3::add_to_linker(&mut linker)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
        wasmhub_state::add_wasi3_to_linker(&mut linker)?;
    }
    wasmhub_host::link_ungranted(&mut linker)?;
    wasmhub_state::add_to_linker(&mut linker)?;
    Ok(linker)
}

impl PreparedApp {
    /// Whether any component is routed: an app without one is valid (for `check`, `invoke`
    /// and `compose`) but has nothing to serve.
    pub fn is_routed(&self) -> bool {
        self.served.iter().any(Option::is_some)
    }

    /// Fails unless some component is routed, naming the fix.
    pub fn ensure_routed(&self) -> Result<()> {
        let waiting = self
            .app
            .components
            .iter()
            .any(|c| c.route.is_some() && self.app.unavailable.contains_key(&c.name));
        if !self.is_routed() && !waiting {
            bail!(
                "the app \"{}\" has no routed component, so there is nothing to serve: give at \
                 least one component a route = \"/...\"",
                self.app.name
            );
        }
        Ok(())
    }
}

impl PreparedApp {
    /// The pacing lanes its instances share (a new generation keeps them).
    pub(crate) fn lanes(&self) -> Option<Arc<Lanes>> {
        self.served
            .iter()
            .flatten()
            .next()
            .map(|s| s.recipe.lanes.clone())
    }
}
