//! One file per verb.

pub mod check;
mod cluster;
mod compose;
mod deploy;
mod host;
mod inspect;
mod invoke;
mod kv;
mod pull;
mod push;
mod run;
pub mod serve;
mod store;

pub use check::CheckCommand;
pub use cluster::ClusterCommand;
pub use compose::ComposeCommand;
pub use deploy::DeployCommand;
pub use host::HostCommand;
pub use inspect::InspectCommand;
pub use invoke::InvokeCommand;
pub use kv::KvCommand;
pub use pull::PullCommand;
pub use push::PushCommand;
pub use run::RunCommand;
pub use serve::ServeCommand;
pub use store::StoreCommand;
