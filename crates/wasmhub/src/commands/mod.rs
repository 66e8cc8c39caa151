//! One file per verb.

mod build;
pub(crate) mod check;
mod compose;
mod dev;
mod inspect;
mod invoke;
mod kv;
mod new;
mod pull;
mod push;
mod run;
mod serve;
mod store;

pub use build::BuildCommand;
pub use check::CheckCommand;
pub use compose::ComposeCommand;
pub use dev::DevCommand;
pub use inspect::InspectCommand;
pub use invoke::InvokeCommand;
pub use kv::KvCommand;
pub use new::{AddCommand, NewCommand};
pub use pull::PullCommand;
pub use push::PushCommand;
pub use run::RunCommand;
pub use serve::ServeCommand;
pub use store::StoreCommand;
