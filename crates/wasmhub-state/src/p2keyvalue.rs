//! `wasi:keyvalue` at both drafts, adapted to [`StateView`]: one implementation, two
//! sets of WIT types (string or numeric cursors, signed or unsigned increment).

use wasmtime::component::{Linker, Resource};

use crate::bindings::{draft, draft2};
use crate::host::{Bucket, Cas, GuestError, HasState, HasStateView, StateView};

/// A `list-keys` cursor as a WIT version spells it.
trait GuestCursor: Sized {
    fn into_string(self, view: &StateView<'_>) -> Result<String, GuestError>;
    fn from_string(s: String, view: &mut StateView<'_>) -> Self;
}

impl GuestCursor for String {
    fn into_string(self, _: &StateView<'_>) -> Result<String, GuestError> {
        Ok(self)
    }
    fn from_string(s: String, _: &mut StateView<'_>) -> Self {
        s
    }
}

impl GuestCursor for u64 {
    fn into_string(self, view: &StateView<'_>) -> Result<String, GuestError> {
        view.cursor_of(self)
    }
    fn from_string(s: String, view: &mut StateView<'_>) -> Self {
        view.number_cursor(s)
    }
}

/// The parts both drafts share: `store` (but `list-keys`'s cursor type) and `batch`.
macro_rules! store_and_batch {
    ($m:ident, $cursor:ty) => {
        impl $m::wasi::keyvalue::store::Host for StateView<'_> {
            async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, GuestError> {
                let bucket = StateView::open(self, identifier)?;
                Ok(self.table.push(bucket)?)
            }

            fn convert_error(
                &mut self,
                err: GuestError,
            ) -> wasmtime::Result<$m::wasi::keyvalue::store::Error> {
                use $m::wasi::keyvalue::store::Error;
                match err {
                    GuestError::AccessDenied => Ok(Error::AccessDenied),
                    GuestError::Other(m) => Ok(Error::Other(m)),
                    GuestError::Trap(e) => Err(e),
                }
            }
        }

        impl $m::wasi::keyvalue::store::HostBucket for StateView<'_> {
            async fn get(
                &mut self,
                b: Resource<Bucket>,
                key: String,
            ) -> Result<Option<Vec<u8>>, GuestError> {
                let label = self.bucket_label(&b)?;
                StateView::get(self, &label, key).await
            }

            async fn set(
                &mut self,
                b: Resource<Bucket>,
                key: String,
                value: Vec<u8>,
            ) -> Result<(), GuestError> {
                let label = self.bucket_label(&b)?;
                StateView::set(self, &label, key, value).await
            }

            async fn delete(&mut self, b: Resource<Bucket>, key: String) -> Result<(), GuestError> {
                let label = self.bucket_label(&b)?;
                StateView::delete(self, &label, key).await
            }

            async fn exists(
                &mut self,
                b: Resource<Bucket>,
                key: String,
            ) -> Result<bool, GuestError> {
                let label = self.bucket_label(&b)?;
                StateView::exists(self, &label, key).await
            }

            async fn list_keys(
                &mut self,
                b: Resource<Bucket>,
                cursor: Option<$cursor>,
            ) -> Result<$m::wasi::keyvalue::store::KeyResponse, GuestError> {
                let label = self.bucket_label(&b)?;
                let cursor = match cursor {
                    Some(c) => Some(c.into_string(self)?),
                    None => None,
                };
                let (keys, next) = self.list(&label, cursor).await?;
                let cursor = next.map(|n| GuestCursor::from_string(n, self));
                Ok($m::wasi::keyvalue::store::KeyResponse { keys, cursor })
            }

            async fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
                self.table.delete(b)?;
                Ok(())
            }
        }

        impl $m::wasi::keyvalue::batch::Host for StateView<'_> {
            async fn get_many(
                &mut self,
                b: Resource<Bucket>,
                keys: Vec<String>,
            ) -> Result<Vec<Option<(String, Vec<u8>)>>, GuestError> {
                let label = self.bucket_label(&b)?;
                StateView::get_many(self, &label, keys).await
            }

            async fn set_many(
                &mut self,
                b: Resource<Bucket>,
                pairs: Vec<(String, Vec<u8>)>,
            ) -> Result<(), GuestError> {
                let label = self.bucket_label(&b)?;
                StateView::set_many(self, &label, pairs).await
            }

            async fn delete_many(
                &mut self,
                b: Resource<Bucket>,
                keys: Vec<String>,
            ) -> Result<(), GuestError> {
                let label = self.bucket_label(&b)?;
                StateView::delete_many(self, &label, keys).await
            }
        }
    };
}

store_and_batch!(draft2, String);
store_and_batch!(draft, u64);

impl draft2::wasi::keyvalue::atomics::Host for StateView<'_> {
    async fn increment(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> Result<i64, GuestError> {
        let label = self.bucket_label(&b)?;
        StateView::increment(self, &label, key, delta).await
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), draft2::wasi::keyvalue::atomics::CasError>> {
        use draft2::wasi::keyvalue::atomics::CasError;
        use draft2::wasi::keyvalue::store::{Error, Host as _};
        let c = self.table.get(&cas)?;
        let handle = Cas {
            label: c.label.clone(),
            key: c.key.clone(),
            seen: c.seen.clone(),
        };
        match StateView::swap(self, &handle, value).await {
            Ok(true) => {
                self.table.delete(cas)?;
                Ok(Ok(()))
            }
            // Someone wrote first: hand the handle back, refreshed, so a retry can succeed.
            Ok(false) => {
                let fresh = self.cas(&handle.label, handle.key).await;
                match fresh {
                    Ok(fresh) => {
                        self.table.get_mut(&cas)?.seen = fresh.seen;
                        Ok(Err(CasError::CasFailed(cas)))
                    }
                    Err(e) => {
                        self.table.delete(cas)?;
                        let e: Error = self.convert_error(e)?;
                        Ok(Err(CasError::StoreError(e)))
                    }
                }
            }
            Err(e) => {
                self.table.delete(cas)?;
                let e: Error = self.convert_error(e)?;
                Ok(Err(CasError::StoreError(e)))
            }
        }
    }
}

impl draft2::wasi::keyvalue::atomics::HostCas for StateView<'_> {
    async fn new(&mut self, b: Resource<Bucket>, key: String) -> Result<Resource<Cas>, GuestError> {
        let label = self.bucket_label(&b)?;
        let cas = self.cas(&label, key).await?;
        Ok(self.table.push(cas)?)
    }

    async fn current(&mut self, cas: Resource<Cas>) -> Result<Option<Vec<u8>>, GuestError> {
        Ok(self.table.get(&cas)?.seen.as_ref().map(|e| e.value.clone()))
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl draft::wasi::keyvalue::atomics::Host for StateView<'_> {
    async fn increment(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64, GuestError> {
        let label = self.bucket_label(&b)?;
        let delta = i64::try_from(delta).map_err(|_| {
            GuestError::Other(format!(
                "increment of key {key:?} by {delta} is past a counter's range (at most {})",
                i64::MAX
            ))
        })?;
        let n = StateView::increment(self, &label, key.clone(), delta).await?;
        u64::try_from(n).map_err(|_| {
            GuestError::Other(format!(
                "key {key:?} holds the negative count {n}, which this wasi:keyvalue version \
                 (0.2.0-draft, unsigned) cannot return; the increment was written"
            ))
        })
    }
}

/// Links both drafts' `store`, `atomics` and `batch`.
pub fn add_to_linker<T: HasState>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    draft2::Imports::add_to_linker::<T, HasStateView>(linker, |t| t.state())?;
    draft::Imports::add_to_linker::<T, HasStateView>(linker, |t| t.state())?;
    Ok(())
}
