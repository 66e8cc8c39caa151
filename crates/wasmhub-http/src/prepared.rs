//! An app made ready to serve: every component compiled, checked and pre-linked once.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use wasmhub_app::{App, Grants};
use wasmhub_core::CompileCache;
use wasmhub_host::Graph;
use wasmtime::Engine;
use wasmtime::component::Linker;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::state::ServeState;

/// One served component: its pre-linked instance template and what it is granted.
#[derive(Clone)]
pub struct Served {
    /// Its name.
    pub name: Arc<str>,
    /// Its route, as written.
    pub route: String,
    /// Instantiates a fresh instance per request (a WASI 0.2 handler).
    pub pre: Option<ProxyPre<ServeState>>,
    /// Or a WASI 0.3 handler (also a fresh instance per request).
    pub p3: Option<Arc<crate::p3::Handler>>,
    /// What each instance may touch.
    pub grants: Grants,
    /// How much each instance may use.
    pub budget: wasmhub_app::Budget,
    /// The app's link graph, when this component has links (each request starts a session).
    pub links: Option<Arc<Graph>>,
    /// Outbound allow-list, shared by its instances.
    pub outbound: Arc<[wasmhub_app::OutboundRule]>,
    /// Its cap on instances alive at once.
    pub instances: crate::slots::Limit,
    /// The host's instances in flight, long and short (shared by every component).
    pub lanes: Arc<wasmhub_host::Lanes>,
}

/// The whole app, ready for requests.
pub struct PreparedApp {
    /// The app as resolved.
    pub app: App,
    /// Its components, in `app.components` order (unrouted ones too).
    pub served: Vec<Option<Served>>,
}

/// Compiles (or maps from the cache) and pre-links every routed component; fails before
/// any socket is bound if one cannot be served.
pub fn prepare(
    engine: &Engine,
    cache: Option<&CompileCache>,
    app: App,
    options: &crate::ServeOptions,
) -> Result<PreparedApp> {
    let request_timeout = options.request_timeout;
    let mut linker: Linker<ServeState> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    if app
        .components
        .iter()
        .any(|c| c.wasi == wasmhub_app::WasiVersion::P3)
    {
        wasmtime_wasi::p3::add_to_linker(&mut linker)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    }
    wasmhub_host::link_ungranted(&mut linker)?;
    let roots: Vec<usize> = (0..app.components.len())
        .filter(|&i| app.components[i].route.is_some())
        .collect();
    let cap = |c: &wasmhub_app::AppComponent| {
        crate::slots::component_cap(
            c.budget.instances,
            options.max_component_instances,
            options.max_instances,
            roots.len(),
        )
    };
    let serve_budget = |c: &wasmhub_app::AppComponent| c.budget.with_serve_defaults();
    let graph = Graph::build(
        engine,
        &app,
        &roots,
        &mut |c| wasmhub_host::load_checked(engine, cache, c, &serve_budget(c)),
        &serve_budget,
    )?;
    let lanes = Arc::new(wasmhub_host::Lanes::default());
    let mut served = Vec::new();
    for (i, c) in app.components.iter().enumerate() {
        let Some(route) = &c.route else {
            served.push(None);
            continue;
        };
        let at = || wasmhub_host::describe_component(c);
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
        wasmhub_caps::Denials::of(&c.grants.site).name_as(&c.name);
        let linked = graph.has_links(i).then(|| graph.clone());
        let mut own_linker;
        let linker = match &linked {
            Some(g) => {
                own_linker = linker.clone();
                g.define(i, &mut own_linker).with_context(at)?;
                &own_linker
            }
            None => &linker,
        };
        let instance_pre = linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .with_context(at)?;
        let mut one = Served {
            name: c.name.as_str().into(),
            route: route.to_string(),
            pre: None,
            p3: None,
            grants: c.grants.clone(),
            budget: c.budget.with_serve_defaults(),
            outbound: c.grants.outbound.iter().map(|o| o.value.clone()).collect(),
            links: linked,
            instances: crate::slots::Limit::new(cap(c)),
            lanes: lanes.clone(),
        };
        if exports_p3 {
            let pre = wasmtime_wasi_http::p3::bindings::ServicePre::new(instance_pre)
                .map_err(anyhow::Error::from)
                .with_context(at)?;
            let deadline = one
                .budget
                .deadline
                .map_or(request_timeout, |d| d.min(request_timeout));
            one.p3 = Some(crate::p3::handler(engine, pre, one.clone(), deadline));
        } else {
            one.pre = Some(
                ProxyPre::new(instance_pre)
                    .map_err(anyhow::Error::from)
                    .with_context(at)?,
            );
        }
        served.push(Some(one));
    }
    Ok(PreparedApp { app, served })
}

impl PreparedApp {
    /// Whether any component is routed: an app without one is valid (for `check`, `invoke`
    /// and `compose`) but has nothing to serve.
    pub fn is_routed(&self) -> bool {
        self.served.iter().any(Option::is_some)
    }

    /// Fails unless some component is routed, naming the fix.
    pub fn ensure_routed(&self) -> Result<()> {
        if !self.is_routed() {
            bail!(
                "the app \"{}\" has no routed component, so there is nothing to serve: give at \
                 least one component a route = \"/...\"",
                self.app.name
            );
        }
        Ok(())
    }
}
