//! One file per verb.

mod build;
pub mod check;
mod cluster;
mod compose;
mod deploy;
mod dev;
mod host;
mod inspect;
mod invoke;
mod kv;
mod new;
mod pull;
mod push;
mod run;
pub mod serve;
mod store;

pub use build::BuildCommand;
pub use check::CheckCommand;
pub use cluster::ClusterCommand;
pub use compose::ComposeCommand;
pub use deploy::DeployCommand;
pub use dev::DevCommand;
pub use host::HostCommand;
pub use inspect::InspectCommand;
pub use invoke::InvokeCommand;
pub use kv::KvCommand;
pub use new::{AddCommand, NewCommand};
pub use pull::PullCommand;
pub use push::PushCommand;
pub use run::RunCommand;
pub use serve::ServeCommand;
pub use store::StoreCommand;
