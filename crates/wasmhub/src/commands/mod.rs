//! One file per verb.

mod check;
mod compose;
mod inspect;
mod invoke;
mod kv;
mod pull;
mod push;
mod run;
mod serve;
mod store;

pub use check::CheckCommand;
pub use compose::ComposeCommand;
pub use inspect::InspectCommand;
pub use invoke::InvokeCommand;
pub use kv::KvCommand;
pub use pull::PullCommand;
pub use push::PushCommand;
pub use run::RunCommand;
pub use serve::ServeCommand;
pub use store::StoreCommand;
