//! One file per verb.

mod check;
mod compose;
mod inspect;
mod invoke;
mod run;
mod serve;

pub use check::CheckCommand;
pub use compose::ComposeCommand;
pub use inspect::InspectCommand;
pub use invoke::InvokeCommand;
pub use run::RunCommand;
pub use serve::ServeCommand;
