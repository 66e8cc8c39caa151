//! `fermyon:spin/key-value@2.0.0` and `fermyon:spin/variables@2.0.0` (spin-sdk 2 to 4, and
//! components built for Spin 2 and 3).

use wasmtime::component::{Linker, Resource};

use super::VariableError;
use crate::host::{Bucket, GuestError, HasState, HasStateView, StateView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/spin-2.0.0",
        world: "fermyon:spin/kv-variables",
        imports: { default: async | trappable },
        with: {
            "fermyon:spin/key-value.store": crate::host::Bucket,
        },
        trappable_error_type: {
            "fermyon:spin/key-value.error" => crate::host::GuestError,
        },
    });
}

use bindings::fermyon::spin::{key_value, variables};

impl key_value::Host for StateView<'_> {
    fn convert_error(&mut self, err: GuestError) -> wasmtime::Result<key_value::Error> {
        match err {
            GuestError::AccessDenied => Ok(key_value::Error::AccessDenied),
            GuestError::Other(m) => Ok(key_value::Error::Other(m)),
            GuestError::Trap(e) => Err(e),
        }
    }
}

impl key_value::HostStore for StateView<'_> {
    async fn open(&mut self, label: String) -> Result<Resource<Bucket>, GuestError> {
        let bucket = StateView::open(self, label)?;
        Ok(self.table.push(bucket)?)
    }

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

    async fn exists(&mut self, b: Resource<Bucket>, key: String) -> Result<bool, GuestError> {
        let label = self.bucket_label(&b)?;
        StateView::exists(self, &label, key).await
    }

    async fn get_keys(&mut self, b: Resource<Bucket>) -> Result<Vec<String>, GuestError> {
        let label = self.bucket_label(&b)?;
        self.all_keys(&label).await
    }

    async fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl variables::Host for StateView<'_> {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        Ok(self.spin_variable(&name).map_err(|e| match e {
            VariableError::InvalidName(m) => variables::Error::InvalidName(m),
            VariableError::Undefined(m) => variables::Error::Undefined(m),
        }))
    }
}

/// Links `fermyon:spin/key-value@2.0.0` and `fermyon:spin/variables@2.0.0`.
pub fn add_to_linker<T: HasState>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    bindings::KvVariables::add_to_linker::<T, HasStateView>(linker, |t| t.state())?;
    Ok(())
}
