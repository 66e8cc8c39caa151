//! Capabilities: what a component is granted (deny by default) and what its imports need.

#![deny(missing_docs)]

mod audit;
mod denials;
mod grants;
mod imports;
mod sockets;

pub use audit::{Audit, NotGranted, Refusal, grant_rows};
pub use denials::{DENIABLE, DenialSink, Denials, Denied, report_denials_to};
pub use grants::{
    GrantError, Preopens, open_directories_with, wasi_builder, wasi_builder_without_dirs,
};
pub use imports::{Capability, ImportNeed, classify_import, compact_imports};
pub use sockets::SocketPolicy;
pub use wasmhub_app::{
    DirGrant, DirMode, EnvGrant, GrantSite, Granted, Grants, Origin, OutboundRule, SocketRule,
};
