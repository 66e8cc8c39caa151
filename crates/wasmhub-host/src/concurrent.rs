//! Calling a WASI 0.3 `async func` export: awaited on the store's event loop, its
//! `stream<T>` and `future<T>` results read to their end.

use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::{Result, bail};
use tokio::sync::{mpsc, oneshot};
use wasmtime::StoreContextMut;
use wasmtime::component::{
    Accessor, Func, FutureAny, FutureConsumer, Lift, Source, StreamAny, StreamConsumer,
    StreamResult, Type, Val,
};

use crate::HostState;

/// Sends every batch the guest writes to a channel.
struct Batches<T>(mpsc::UnboundedSender<Vec<T>>);

impl<D, T: Lift + Send + Sync + 'static> StreamConsumer<D> for Batches<T> {
    type Item = T;

    fn poll_consume(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        mut store: StoreContextMut<D>,
        mut source: Source<'_, T>,
        _finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let n = source.remaining(&mut store);
        if n == 0 {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        let mut batch = Vec::with_capacity(n);
        source.read(&mut store, &mut batch)?;
        Poll::Ready(Ok(if self.0.send(batch).is_ok() {
            StreamResult::Completed
        } else {
            StreamResult::Dropped
        }))
    }
}

/// Sends the one value a future resolves to.
struct Once<T>(Option<oneshot::Sender<T>>);

impl<D, T: Lift + Send + Sync + 'static> FutureConsumer<D> for Once<T> {
    type Item = T;

    fn poll_consume(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        mut store: StoreContextMut<D>,
        mut source: Source<'_, T>,
        _finish: bool,
    ) -> Poll<wasmtime::Result<()>> {
        let mut value = None;
        source.read(&mut store, &mut value)?;
        if let (Some(v), Some(tx)) = (value, self.get_mut().0.take()) {
            let _ = tx.send(v);
        }
        Poll::Ready(Ok(()))
    }
}

/// Calls `f` and settles its results: a stream becomes the list of everything written to
/// it (each batch passed to `on_item` as it arrives), a future the value it resolves to.
pub async fn call(
    a: &Accessor<HostState>,
    f: Func,
    params: &[Val],
    types: &[Type],
    on_item: &mut (dyn FnMut(&Val) + Send),
) -> Result<Vec<Val>> {
    let mut results = vec![Val::Bool(false); types.len()];
    f.call_concurrent(a, params, &mut results).await?;
    let mut settled = Vec::with_capacity(results.len());
    for (v, ty) in results.into_iter().zip(types) {
        settled.push(settle(a, v, ty, on_item).await?);
    }
    Ok(settled)
}

async fn settle(
    a: &Accessor<HostState>,
    v: Val,
    ty: &Type,
    on_item: &mut (dyn FnMut(&Val) + Send),
) -> Result<Val> {
    match (v, ty) {
        (Val::Stream(s), Type::Stream(st)) => match st.ty() {
            Some(Type::U8) => drain::<u8>(a, s, Val::U8, on_item).await,
            Some(Type::U32) => drain::<u32>(a, s, Val::U32, on_item).await,
            Some(Type::S32) => drain::<i32>(a, s, Val::S32, on_item).await,
            Some(Type::U64) => drain::<u64>(a, s, Val::U64, on_item).await,
            Some(Type::String) => drain::<String>(a, s, Val::String, on_item).await,
            other => bail!(
                "{} results cannot be read by `invoke` (Wasmtime 48 reads streams of typed payloads only): \
                 streams of u8, u32, s32, u64 and string are supported",
                describe("stream", other)
            ),
        },
        (Val::Future(f), Type::Future(ft)) => match ft.ty() {
            Some(Type::String) => resolve::<String>(a, f, Val::String, on_item).await,
            Some(Type::U32) => resolve::<u32>(a, f, Val::U32, on_item).await,
            Some(Type::U64) => resolve::<u64>(a, f, Val::U64, on_item).await,
            Some(Type::Bool) => resolve::<bool>(a, f, Val::Bool, on_item).await,
            other => bail!(
                "{} results cannot be read by `invoke`: futures of string, u32, u64 and bool are supported",
                describe("future", other)
            ),
        },
        (v, _) => Ok(v),
    }
}

fn describe(kind: &str, payload: Option<Type>) -> String {
    match payload {
        Some(t) => format!(
            "{kind}<{}>",
            crate::signature::type_text(&t, &|_| "resource".to_owned())
        ),
        None => kind.to_owned(),
    }
}

async fn drain<T: Lift + Send + Sync + 'static>(
    a: &Accessor<HostState>,
    s: StreamAny,
    to_val: fn(T) -> Val,
    on_item: &mut (dyn FnMut(&Val) + Send),
) -> Result<Val> {
    let reader = s.try_into_stream_reader::<T>()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    a.with(|mut store| reader.pipe(&mut store, Batches(tx)))?;
    let mut all = Vec::new();
    // The guest writes only while the event loop runs, so this waits inside it.
    while let Some(batch) = rx.recv().await {
        let batch: Vec<Val> = batch.into_iter().map(to_val).collect();
        on_item(&Val::List(batch.clone()));
        all.extend(batch);
    }
    Ok(Val::List(all))
}

async fn resolve<T: Lift + Send + Sync + 'static>(
    a: &Accessor<HostState>,
    f: FutureAny,
    to_val: fn(T) -> Val,
    on_item: &mut (dyn FnMut(&Val) + Send),
) -> Result<Val> {
    let reader = f.try_into_future_reader::<T>()?;
    let (tx, rx) = oneshot::channel();
    a.with(|mut store| reader.pipe(&mut store, Once(Some(tx))))?;
    match rx.await {
        Ok(v) => {
            let v = to_val(v);
            on_item(&v);
            Ok(v)
        }
        Err(_) => bail!("the guest dropped the future without writing a value"),
    }
}
