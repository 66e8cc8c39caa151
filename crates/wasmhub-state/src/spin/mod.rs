//! Spin's own host interfaces on wasmhub's stores and configuration:
//! `fermyon:spin/key-value@2.0.0` and `fermyon:spin/variables@2.0.0` (older components), and
//! `spin:key-value@3.0.0` and `spin:variables@3.0.0` (spin-sdk 5 to 7), with Spin's semantics
//! (an ungranted store label is `access-denied`; a variable name breaking Spin's rules is
//! `invalid-name`, an unknown one `undefined`) and wasmhub's limits and secrets on top.

mod v2;
mod v3;

use wasmtime::component::Linker;

use wasmhub_app::spin_variable_name_error as variable_name_error;

use crate::host::{GuestError, HasState};

/// What a Spin `variables.get` answers: the value, or Spin's error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum VariableError {
    /// The name breaks Spin's rules.
    InvalidName(String),
    /// The component has no such variable.
    Undefined(String),
}

impl crate::host::StateView<'_> {
    /// Spin's `variables.get`: validated name, then the component's configuration.
    pub(crate) fn spin_variable(&mut self, name: &str) -> Result<String, VariableError> {
        if let Some(why) = variable_name_error(name) {
            return Err(VariableError::InvalidName(why));
        }
        self.config_get(name).ok_or_else(|| {
            VariableError::Undefined(format!(
                "no variable for {name:?}: declare it under the component's `variables` in \
                 spin.toml (or grant config key {name:?})"
            ))
        })
    }
}

impl crate::host::StateView<'_> {
    /// Every key of store `label`, page by page (each page one counted operation).
    pub(crate) async fn all_keys(&mut self, label: &str) -> Result<Vec<String>, GuestError> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = self.list(label, cursor).await?;
            keys.extend(page);
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(keys),
            }
        }
    }
}

/// Links Spin's key-value and variables interfaces of WASI 0.2 components (2.0.0).
pub fn add_to_linker<T: HasState>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    v2::add_to_linker(linker)
}

/// Links those of WASI 0.3 components (3.0.0, `async func`s): only on an engine with
/// concurrency support.
pub fn add_wasi3_to_linker<T: HasState>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    v3::add_to_linker(linker)
}
