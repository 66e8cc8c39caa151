//! One file per verb.

mod inspect;
mod invoke;
mod run;

pub use inspect::InspectCommand;
pub use invoke::InvokeCommand;
pub use run::RunCommand;
