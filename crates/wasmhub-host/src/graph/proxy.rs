//! Linker entries that forward an import's functions and resources to a target's export.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result, bail};
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{
    Accessor, Component, ComponentExportIndex, Linker, ResourceAny, ResourceDynamic, ResourceType,
    Type, Val,
};
use wasmtime::{AsContextMut, Engine, StoreContextMut};

use super::LinkCtx;

/// Host resource types handed out for proxies; each linked resource gets its own.
static NEXT_RESOURCE: AtomicU32 = AtomicU32::new(0);
/// Ids of forwarded functions, for each target instance's lookup cache.
static NEXT_FUNC: AtomicU32 = AtomicU32::new(0);

/// One forwarded function: where it goes and how its values cross.
struct Forward {
    id: u32,
    target: usize,
    export: ComponentExportIndex,
    name: String,
    /// Whether any parameter or result can hold a resource (else values pass untouched).
    params_hold_resources: bool,
    results: Option<Vec<Type>>,
    /// The import's resource types and the host type each proxy gets.
    resources: Arc<[(ResourceType, u32)]>,
}

/// How a link's calls are made.
#[derive(Debug, Clone, Copy)]
pub struct Way {
    /// The importer is WASI 0.3: it may have several calls in flight at once.
    pub concurrent: bool,
    /// The target is WASI 0.3: its calls run on its own event loop.
    pub to_wasi3: bool,
}

/// The export a link goes to.
pub struct Target<'a> {
    /// The app component's index.
    pub index: usize,
    /// Its component.
    pub component: &'a Component,
    /// The exported interface's name.
    pub export: &'a str,
}

/// Defines `import` of `importer` in `linker` as calls into `to`'s export.
pub fn define<T: AsMut<LinkCtx> + Send + 'static>(
    engine: &Engine,
    linker: &mut Linker<T>,
    importer: &Component,
    import: &str,
    to: Target<'_>,
    way: Way,
) -> Result<()> {
    let Target {
        index: target,
        component: target_component,
        export,
    } = to;
    let ty = importer.component_type();
    let Some(ComponentItem::ComponentInstance(iface)) = ty.get_import(engine, import).map(|e| e.ty)
    else {
        bail!("{import} is not an imported interface, so it cannot be linked");
    };
    let iface_index = target_component
        .get_export_index(None, export)
        .with_context(|| format!("the target does not export {export}"))?;
    let mut inst = linker.instance(import)?;
    let mut resources = Vec::new();
    for (name, item) in iface.exports(engine) {
        if let ComponentItem::Resource(rt) = item.ty {
            if way.to_wasi3 {
                bail!(
                    "{import} holds resource `{name}`: resources do not cross links into a WASI \
                     0.3 component yet; pass plain values, or compose the components instead \
                     (`wasmhub compose`)"
                );
            }
            let payload = NEXT_RESOURCE.fetch_add(1, Ordering::Relaxed);
            resources.push((rt, payload));
            inst.resource_async(
                name,
                ResourceType::host_dynamic(payload),
                move |store, rep| {
                    Box::new(async move {
                        drop_proxy(store, target, rep)
                            .await
                            .map_err(wasmtime::Error::from_anyhow)
                    })
                },
            )?;
        }
    }
    let resources: Arc<[(ResourceType, u32)]> = resources.into();
    for (name, item) in iface.exports(engine) {
        match item.ty {
            ComponentItem::ComponentFunc(f) => {
                let export = target_component
                    .get_export_index(Some(&iface_index), name)
                    .with_context(|| format!("the target's {export} has no function `{name}`"))?;
                let forward = Arc::new(Forward {
                    id: NEXT_FUNC.fetch_add(1, Ordering::Relaxed),
                    target,
                    export,
                    name: format!("{import}#{name}"),
                    params_hold_resources: f.params().any(|(_, t)| holds_resource(&t)),
                    results: f
                        .results()
                        .any(|t| holds_resource(&t))
                        .then(|| f.results().collect()),
                    resources: resources.clone(),
                });
                check_value_kinds(&f, import, name)?;
                if way.concurrent {
                    inst.func_new_concurrent(name, move |a, _ty, params, results| {
                        let forward = forward.clone();
                        Box::pin(async move {
                            forward
                                .call_concurrent(a, params, results)
                                .await
                                .map_err(wasmtime::Error::from_anyhow)
                        })
                    })?;
                } else {
                    inst.func_new_async(name, move |store, _ty, params, results| {
                        let forward = forward.clone();
                        Box::new(async move {
                            forward
                                .call(store, params, results)
                                .await
                                .map_err(wasmtime::Error::from_anyhow)
                        })
                    })?;
                }
            }
            ComponentItem::Resource(_) | ComponentItem::Type(_) => {}
            _ => bail!(
                "{import} holds `{name}`, which is neither a function nor a resource: links carry \
                 functions and resources only; compose the components instead (`wasmhub compose`)"
            ),
        }
    }
    Ok(())
}

/// Streams, futures and error contexts live in one store: they cannot cross a link.
fn check_value_kinds(f: &ComponentFunc, import: &str, name: &str) -> Result<()> {
    let mut all = f.params().map(|(_, t)| t).chain(f.results());
    if all.any(|t| crosses_stores(&t)) {
        bail!(
            "{import}#{name} passes a stream, future or error-context, which a runtime link \
             cannot carry between instances; compose the components instead (`wasmhub compose`)"
        );
    }
    Ok(())
}

fn children(t: &Type) -> Vec<Type> {
    match t {
        Type::List(l) => vec![l.ty()],
        Type::Record(r) => r.fields().map(|f| f.ty).collect(),
        Type::Tuple(t) => t.types().collect(),
        Type::Variant(v) => v.cases().filter_map(|c| c.ty).collect(),
        Type::Option(o) => vec![o.ty()],
        Type::Result(r) => r.ok().into_iter().chain(r.err()).collect(),
        _ => Vec::new(),
    }
}

fn holds_resource(t: &Type) -> bool {
    matches!(t, Type::Own(_) | Type::Borrow(_)) || children(t).iter().any(holds_resource)
}

fn crosses_stores(t: &Type) -> bool {
    matches!(t, Type::Future(_) | Type::Stream(_) | Type::ErrorContext)
        || children(t).iter().any(crosses_stores)
}

impl Forward {
    /// A call from an importer's store (a WASI 0.2 importer: one call at a time).
    async fn call<T: AsMut<LinkCtx> + Send>(
        self: Arc<Self>,
        mut store: StoreContextMut<'_, T>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        // Values without resources pass as they are; others get their proxies swapped.
        let swapped;
        let args = if self.params_hold_resources {
            swapped = params
                .iter()
                .map(|v| to_target(&mut store, v.clone()))
                .collect::<Result<Vec<_>>>()?;
            &swapped[..]
        } else {
            params
        };
        let session = store.data_mut().as_mut().session()?;
        self.forward(&session, args, results).await?;
        if let Some(types) = &self.results {
            for (v, ty) in results.iter_mut().zip(types) {
                let taken = std::mem::replace(v, Val::Bool(false));
                *v = to_importer(&mut store, taken, ty, &self.resources)?;
            }
        }
        Ok(())
    }

    /// A call from a WASI 0.3 importer, which may have others in flight meanwhile.
    async fn call_concurrent<T: AsMut<LinkCtx> + Send + 'static>(
        self: Arc<Self>,
        a: &Accessor<T>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let args = if self.params_hold_resources {
            a.with(|mut s| {
                let mut store = s.as_context_mut();
                params
                    .iter()
                    .map(|v| to_target(&mut store, v.clone()))
                    .collect::<Result<Vec<_>>>()
            })?
        } else {
            params.to_vec()
        };
        let session = a.with(|mut s| s.get().as_mut().session())?;
        self.forward(&session, &args, results).await?;
        if let Some(types) = &self.results {
            a.with(|mut s| {
                let mut store = s.as_context_mut();
                for (v, ty) in results.iter_mut().zip(types) {
                    let taken = std::mem::replace(v, Val::Bool(false));
                    *v = to_importer(&mut store, taken, ty, &self.resources)?;
                }
                anyhow::Ok(())
            })?;
        }
        Ok(())
    }

    /// Makes the call on the target's instance in the session.
    async fn forward(
        &self,
        session: &Arc<super::Session>,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        session
            .call(self.target, self.id, self.export, args, results)
            .await
            .with_context(|| {
                format!(
                    "linked component \"{}\" failed in {}",
                    session.name(self.target),
                    self.name
                )
            })
    }
}

/// The guest dropped its handle to a proxy: drop the target's resource too.
async fn drop_proxy<T: AsMut<LinkCtx> + Send>(
    mut store: StoreContextMut<'_, T>,
    target: usize,
    rep: u32,
) -> Result<()> {
    let links = store.data_mut().as_mut();
    let res = links.remove(rep)?;
    let session = links.session()?;
    let mut live = session.take(target).await?;
    let dropped = res.resource_drop_async(&mut live.m.store).await;
    live.put_back();
    Ok(dropped?)
}

/// A value from the importer, its proxies replaced by the target's own resources.
fn to_target<T: AsMut<LinkCtx>>(store: &mut StoreContextMut<'_, T>, v: Val) -> Result<Val> {
    let mut each = |vs: Vec<Val>| -> Result<Vec<Val>> {
        vs.into_iter().map(|v| to_target(store, v)).collect()
    };
    Ok(match v {
        Val::Resource(any) => Val::Resource(proxied(store, any)?),
        Val::List(vs) => Val::List(each(vs)?),
        Val::Tuple(vs) => Val::Tuple(each(vs)?),
        Val::Record(fields) => {
            let (names, vals): (Vec<String>, Vec<Val>) = fields.into_iter().unzip();
            Val::Record(names.into_iter().zip(each(vals)?).collect())
        }
        Val::Variant(case, Some(b)) => Val::Variant(case, Some(Box::new(to_target(store, *b)?))),
        Val::Option(Some(b)) => Val::Option(Some(Box::new(to_target(store, *b)?))),
        Val::Result(Ok(Some(b))) => Val::Result(Ok(Some(Box::new(to_target(store, *b)?)))),
        Val::Result(Err(Some(b))) => Val::Result(Err(Some(Box::new(to_target(store, *b)?)))),
        other => other,
    })
}

/// The target's resource behind a proxy handle; an owned handle gives its ownership up.
fn proxied<T: AsMut<LinkCtx>>(
    store: &mut StoreContextMut<'_, T>,
    any: ResourceAny,
) -> Result<ResourceAny> {
    let handle = ResourceDynamic::try_from_resource_any(any, &mut *store)?;
    let links = store.data_mut().as_mut();
    if handle.owned() {
        links.remove(handle.rep())
    } else {
        links.get(handle.rep())
    }
}

/// A value from the target, its resources wrapped in proxies the importer can hold.
fn to_importer<T: AsMut<LinkCtx>>(
    store: &mut StoreContextMut<'_, T>,
    v: Val,
    ty: &Type,
    resources: &[(ResourceType, u32)],
) -> Result<Val> {
    let mut inner = |b: Box<Val>, t: Option<Type>| -> Result<Option<Box<Val>>> {
        let t = t.context("a value without a type crossed a link")?;
        Ok(Some(Box::new(to_importer(store, *b, &t, resources)?)))
    };
    Ok(match (v, ty) {
        (Val::Resource(any), Type::Own(rt)) => {
            let payload = resources
                .iter()
                .find(|(r, _)| r == rt)
                .map(|(_, p)| *p)
                .context("a resource of another interface crossed a link")?;
            let rep = store.data_mut().as_mut().insert(any);
            Val::Resource(
                ResourceDynamic::new_own(rep, payload).try_into_resource_any(&mut *store)?,
            )
        }
        (Val::List(vs), Type::List(l)) => {
            let t = l.ty();
            Val::List(
                vs.into_iter()
                    .map(|v| to_importer(store, v, &t, resources))
                    .collect::<Result<_>>()?,
            )
        }
        (Val::Tuple(vs), Type::Tuple(tt)) => Val::Tuple(
            vs.into_iter()
                .zip(tt.types())
                .map(|(v, t)| to_importer(store, v, &t, resources))
                .collect::<Result<_>>()?,
        ),
        (Val::Record(fs), Type::Record(r)) => Val::Record(
            fs.into_iter()
                .zip(r.fields())
                .map(|((n, v), f)| Ok((n, to_importer(store, v, &f.ty, resources)?)))
                .collect::<Result<_>>()?,
        ),
        (Val::Variant(case, Some(b)), Type::Variant(vt)) => {
            let t = vt.cases().find(|c| c.name == case).and_then(|c| c.ty);
            Val::Variant(case, inner(b, t)?)
        }
        (Val::Option(Some(b)), Type::Option(o)) => Val::Option(inner(b, Some(o.ty()))?),
        (Val::Result(Ok(Some(b))), Type::Result(r)) => Val::Result(Ok(inner(b, r.ok())?)),
        (Val::Result(Err(Some(b))), Type::Result(r)) => Val::Result(Err(inner(b, r.err())?)),
        (other, _) => other,
    })
}
