//! `spin:key-value/key-value@3.0.0` and `spin:variables/variables@3.0.0` (spin-sdk 5 to 7):
//! the same calls as 2.0.0, as WASI 0.3 `async func`s.

use wasmtime::component::{Accessor, FutureReader, Linker, Resource, StreamReader};

use super::VariableError;
use crate::host::{Bucket, GuestError, HasState, HasStateView, StateView};
use crate::{Kv, StoreId};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/spin-key-value-3.0.0",
        world: "spin:key-value/imports",
        imports: { default: trappable },
        with: {
            "spin:key-value/key-value.store": crate::host::Bucket,
        },
    });

    /// `spin:variables/variables@3.0.0`.
    pub mod variables {
        wasmtime::component::bindgen!({
            path: "../../wit/deps/spin-variables-3.0.0",
            world: "spin:variables/imports",
            imports: { default: trappable },
        });
    }
}

use bindings::spin::key_value::key_value::{self, Error};
use bindings::variables::spin::variables::variables;

fn kv_error(e: GuestError) -> wasmtime::Result<Error> {
    match e {
        GuestError::AccessDenied => Ok(Error::AccessDenied),
        GuestError::Other(m) => Ok(Error::Other(m)),
        GuestError::Trap(e) => Err(e),
    }
}

/// A guest error as the WIT result, a host failure as a trap.
fn answer<T>(r: Result<T, GuestError>) -> wasmtime::Result<Result<T, Error>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e) => kv_error(e).map(Err),
    }
}

/// Counts one operation and finds the bucket's store, inside the store's lock.
fn reach<T>(
    a: &Accessor<T, HasStateView>,
    b: &Resource<Bucket>,
) -> Result<(StoreId, Kv), GuestError> {
    a.with(|mut access| {
        let mut view = access.get();
        let label = view.bucket_label(b)?;
        view.spend(1)?;
        view.store(&label)
    })
}

impl<T> key_value::HostStoreWithStore<T> for HasStateView {
    async fn open(
        a: &Accessor<T, Self>,
        label: String,
    ) -> wasmtime::Result<Result<Resource<Bucket>, Error>> {
        answer(a.with(|mut access| {
            let mut view = access.get();
            let bucket = StateView::open(&mut view, label)?;
            Ok(view.table.push(bucket)?)
        }))
    }

    async fn get(
        a: &Accessor<T, Self>,
        b: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        answer(match reach(a, &b) {
            Ok((id, kv)) => kv.get(&id, &key).await.map_err(GuestError::from),
            Err(e) => Err(e),
        })
    }

    async fn set(
        a: &Accessor<T, Self>,
        b: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        answer(match reach(a, &b) {
            Ok((id, kv)) => kv.set(&id, &key, value).await.map_err(GuestError::from),
            Err(e) => Err(e),
        })
    }

    async fn delete(
        a: &Accessor<T, Self>,
        b: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        answer(match reach(a, &b) {
            Ok((id, kv)) => kv.delete(&id, &key).await.map_err(GuestError::from),
            Err(e) => Err(e),
        })
    }

    async fn exists(
        a: &Accessor<T, Self>,
        b: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        answer(match reach(a, &b) {
            Ok((id, kv)) => kv.exists(&id, &key).await.map_err(GuestError::from),
            Err(e) => Err(e),
        })
    }

    async fn get_keys(
        a: &Accessor<T, Self>,
        b: Resource<Bucket>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), Error>>)> {
        let keys = all_keys(a, &b).await;
        let (keys, result) = match keys {
            Ok(keys) => (keys, Ok(())),
            Err(e) => (Vec::new(), Err(kv_error(e)?)),
        };
        a.with(|mut access| {
            let stream = StreamReader::new(&mut access, keys)?;
            let future =
                FutureReader::new(
                    &mut access,
                    async move { wasmtime::Result::<_>::Ok(result) },
                )?;
            Ok((stream, future))
        })
    }
}

/// Every key of the bucket's store, page by page (each page one counted operation).
async fn all_keys<T>(
    a: &Accessor<T, HasStateView>,
    b: &Resource<Bucket>,
) -> Result<Vec<String>, GuestError> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (id, kv) = reach(a, b)?;
        let (page, next) = kv.list(&id, cursor.as_deref()).await?;
        keys.extend(page);
        match next {
            Some(n) => cursor = Some(n),
            None => return Ok(keys),
        }
    }
}

impl key_value::HostStore for StateView<'_> {
    fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl key_value::Host for StateView<'_> {}

impl<T> variables::HostWithStore<T> for HasStateView {
    async fn get(
        a: &Accessor<T, Self>,
        name: String,
    ) -> wasmtime::Result<Result<String, variables::Error>> {
        Ok(a.with(|mut access| access.get().spin_variable(&name))
            .map_err(|e| match e {
                VariableError::InvalidName(m) => variables::Error::InvalidName(m),
                VariableError::Undefined(m) => variables::Error::Undefined(m),
            }))
    }
}

impl variables::Host for StateView<'_> {}

/// Links `spin:key-value/key-value@3.0.0` and `spin:variables/variables@3.0.0`.
pub fn add_to_linker<T: HasState>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    key_value::add_to_linker::<T, HasStateView>(linker, |t| t.state())?;
    variables::add_to_linker::<T, HasStateView>(linker, |t| t.state())?;
    Ok(())
}
