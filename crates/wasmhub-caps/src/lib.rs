//! Capabilities: what a component is granted (deny by default) and what its imports need.

#![deny(missing_docs)]

mod grants;
mod imports;

pub use grants::{GrantError, wasi_builder};
pub use imports::{Capability, ImportNeed, classify_import};
pub use wasmhub_app::{DirGrant, DirMode, EnvGrant, Grants, OutboundRule};
