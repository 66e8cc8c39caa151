//! The `wasmhub.toml` app manifest: schema, validated values, and errors with file and line.

#![deny(missing_docs)]

mod budget;
mod build;
mod error;
mod grant;
mod isolation;
mod link;
mod load;
mod names;
mod outbound;
mod reuse;
mod schema;
mod socket;
mod state;
mod wasi;

pub use budget::{BudgetSection, ByteSize, Instances, Profile, Wall, human_bytes};
pub use build::{BuildCommand, BuildSection, SetupSection, WatchGlob};
pub use error::{ManifestError, line_of};
pub use grant::{DirGrant, DirMode, EnvGrant, GrantParseError};
pub use isolation::Isolation;
pub use link::InterfaceName;
pub use load::{Sources, load, load_with, parse, parse_with};
pub use names::{ComponentName, Route};
pub use outbound::{OutboundRule, Port};
pub use reuse::{MAX_REUSE, Reuse};
pub use schema::{
    AppSection, ComponentSection, FileGrantEntry, GrantSection, Manifest, SocketsGrant,
};
pub use socket::{PortRange, SocketHost, SocketRule, Transport};
pub use state::{ConfigSource, ConfigValue, StoreLabel, StoreSection};
pub use wasi::WasiVersion;
