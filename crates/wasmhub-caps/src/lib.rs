//! Capabilities: what a component is granted (deny by default) and what its imports need.

#![deny(missing_docs)]

mod grants;
mod imports;

pub use grants::{DirGrant, DirMode, EnvGrant, GrantError, Grants};
pub use imports::{Capability, ImportNeed, classify_import};
