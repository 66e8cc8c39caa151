//! Runtime links: a component's import served by another component's export, in process.
//!
//! Each component keeps its own store, grants and budget; a call through a link crosses from
//! one store to the other, with resources passed as proxies. The targets of a request are
//! instantiated on first use and live as long as the request.

mod actor;
mod draw;
mod driver;
mod fit;
mod plan;
mod proxy;
mod session;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use anyhow::{Context, Result};
use wasmhub_app::{App, AppComponent, Budget, Grants, WasiVersion};
use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre, Linker};

pub use driver::Driver;
pub use plan::Resolved;
pub use session::{LinkCtx, Session};

use crate::{HostState, cli_linker};

/// A link target's instance template and what its instances get.
#[derive(Clone)]
struct Node {
    pre: InstancePre<HostState>,
    grants: Grants,
    budget: Budget,
    /// Its stores and configuration, made once.
    state: Arc<wasmhub_state::ComponentState>,
    /// Its granted directories, opened once (before a sandboxed worker locks down).
    preopens: wasmhub_caps::Preopens,
    /// A WASI 0.3 component: its calls run concurrently on its own event loop.
    wasi3: bool,
}

/// An app's checked links, ready to instantiate the targets a request needs.
pub struct Graph {
    engine: Engine,
    names: Vec<String>,
    /// Each component's resolved links (empty for components not reachable from the roots).
    links: Vec<Vec<Resolved>>,
    /// Loaded components reachable from the roots.
    components: Vec<Option<Component>>,
    /// Instance templates of the components some link targets.
    nodes: Vec<Option<Node>>,
    /// Which components are WASI 0.3 (their linked imports are called concurrently).
    wasi3: Vec<bool>,
}

impl Graph {
    /// Loads the components reachable from `roots` through links, checks every link (import
    /// present, export present, types fit, no cycle, no import left unserved) and pre-links
    /// the targets. `budget` gives each target's budget (serve adds its defaults).
    pub fn build(
        engine: &Engine,
        app: &App,
        roots: &[usize],
        load: &mut dyn FnMut(&AppComponent) -> Result<Component>,
        budget: &dyn Fn(&AppComponent) -> Budget,
    ) -> Result<Arc<Self>> {
        let n = app.components.len();
        let order = plan::reachable(app, roots)?;
        let mut components: Vec<Option<Component>> = vec![None; n];
        for &i in &order {
            components[i] = Some(load(&app.components[i])?);
        }
        // Only for error messages: which components export an interface.
        let mut all: Option<Vec<Option<Component>>> = None;
        let mut exporters = |import: &str| -> Vec<String> {
            let all = all.get_or_insert_with(|| {
                app.components
                    .iter()
                    .enumerate()
                    .map(|(i, c)| components[i].clone().or_else(|| load(c).ok()))
                    .collect()
            });
            let wanted = import.split('@').next().unwrap_or(import);
            app.components
                .iter()
                .zip(all.iter())
                .filter(|(_, comp)| {
                    comp.as_ref().is_some_and(|comp| {
                        comp.component_type()
                            .exports(engine)
                            .any(|(e, _)| e.split('@').next() == Some(wanted))
                    })
                })
                .map(|(c, _)| c.name.clone())
                .collect()
        };
        let is3: Vec<bool> = app
            .components
            .iter()
            .map(|c| c.wasi == WasiVersion::P3)
            .collect();
        let mut links = vec![Vec::new(); n];
        for &i in &order {
            links[i] = plan::resolve(engine, app, i, &components, &mut exporters)?;
        }
        let mut nodes: Vec<Option<Node>> = (0..n).map(|_| None).collect();
        // `order` is post-order: every target comes before the components that link to it.
        for &i in &order {
            let is_target = order
                .iter()
                .any(|&j| links[j].iter().any(|r| r.target == i));
            if !is_target {
                continue;
            }
            let c = &app.components[i];
            let component = components[i].as_ref().expect("loaded");
            let linked: Vec<String> = links[i].iter().map(|r| r.import.clone()).collect();
            crate::admit(engine, component, &c.grants, &linked)?;
            let mut linker = cli_linker(engine)?;
            let wasi3 = c.wasi == WasiVersion::P3;
            if wasi3 {
                crate::add_wasi3(&mut linker)?;
            }
            define_links(
                engine,
                &mut linker,
                component,
                &links[i],
                &components,
                &is3,
                wasi3,
            )?;
            let pre = linker
                .instantiate_pre(component)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot link component \"{}\"", c.name))?;
            let budget = budget(c);
            nodes[i] = Some(Node {
                pre,
                grants: c.grants.clone(),
                state: wasmhub_state::ComponentState::of(&c.grants, budget.kv_ops)
                    .with_context(|| format!("component \"{}\"", c.name))?,
                preopens: wasmhub_caps::Preopens::open(&c.grants)
                    .with_context(|| format!("component \"{}\"", c.name))?,
                budget,
                wasi3,
            });
        }
        Ok(Arc::new(Self {
            engine: engine.clone(),
            names: app.components.iter().map(|c| c.name.clone()).collect(),
            links,
            components,
            nodes,
            wasi3: is3,
        }))
    }

    /// Component `i`, when it is reachable from the roots (loaded once, here).
    pub fn component(&self, i: usize) -> Option<&Component> {
        self.components[i].as_ref()
    }

    /// Component `i`'s checked links.
    pub fn links(&self, i: usize) -> &[Resolved] {
        &self.links[i]
    }

    /// The imports of component `i` that links serve.
    pub fn linked_imports(&self, i: usize) -> Vec<String> {
        self.links[i].iter().map(|r| r.import.clone()).collect()
    }

    /// Whether component `i` has links (its stores then need [`LinkCtx::root`]).
    pub fn has_links(&self, i: usize) -> bool {
        !self.links[i].is_empty()
    }

    /// Defines component `i`'s linked imports in `linker` (for the component a request starts with).
    pub fn define<T: AsMut<LinkCtx> + Send + 'static>(
        &self,
        i: usize,
        linker: &mut Linker<T>,
    ) -> Result<()> {
        let component = self.components[i]
            .as_ref()
            .context("internal error: component not loaded for its links")?;
        define_links(
            &self.engine,
            linker,
            component,
            &self.links[i],
            &self.components,
            &self.wasi3,
            self.wasi3[i],
        )
    }
}

fn define_links<T: AsMut<LinkCtx> + Send + 'static>(
    engine: &Engine,
    linker: &mut Linker<T>,
    component: &Component,
    links: &[Resolved],
    components: &[Option<Component>],
    wasi3: &[bool],
    importer_wasi3: bool,
) -> Result<()> {
    for r in links {
        let target = components[r.target]
            .as_ref()
            .context("internal error: link target not loaded")?;
        let way = proxy::Way {
            concurrent: importer_wasi3,
            to_wasi3: wasi3[r.target],
        };
        let to = proxy::Target {
            index: r.target,
            component: target,
            export: &r.export,
        };
        proxy::define(engine, linker, component, &r.import, to, way)
            .with_context(|| format!("cannot link {} ({})", r.import, r.at))?;
    }
    Ok(())
}
