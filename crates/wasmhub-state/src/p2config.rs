//! `wasi:config/store` at its three versions, all answered from the component's [`Config`].
//!
//! [`Config`]: crate::config::Config

use wasmtime::component::Linker;

use crate::bindings::{config_dated, config_draft, config_rc1};
use crate::host::{HasState, HasStateView, StateView};

macro_rules! config_host {
    ($m:ident) => {
        impl $m::wasi::config::store::Host for StateView<'_> {
            async fn get(
                &mut self,
                key: String,
            ) -> wasmtime::Result<Result<Option<String>, $m::wasi::config::store::Error>> {
                Ok(Ok(self.config_get(&key)))
            }

            async fn get_all(
                &mut self,
            ) -> wasmtime::Result<Result<Vec<(String, String)>, $m::wasi::config::store::Error>>
            {
                Ok(Ok(self.config_all()))
            }
        }
    };
}

config_host!(config_rc1);
config_host!(config_dated);
config_host!(config_draft);

/// Links the three `wasi:config` versions.
pub fn add_to_linker<T: HasState>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    config_rc1::Imports::add_to_linker::<T, HasStateView>(linker, |t| t.state())?;
    config_dated::Imports::add_to_linker::<T, HasStateView>(linker, |t| t.state())?;
    config_draft::Imports::add_to_linker::<T, HasStateView>(linker, |t| t.state())?;
    Ok(())
}
