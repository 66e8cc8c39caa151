//! The developer loop: running `[component.NAME.build]`, templates for new components, the
//! file watcher. It never loads Wasmtime: the binary checks and serves what it builds.

#![deny(missing_docs)]

mod error;
mod plan;
mod run;
mod scaffold;
mod setup;
mod templates;
mod watch;

pub use error::{BuildError, TemplateError};
pub use plan::{Target, plan};
pub use run::{Cancel, Lines, build_all, build_one};
pub use scaffold::{add_component, new_app};
pub use setup::{SETUP_DIR, setup_digest};
pub use templates::{Kind, Lang, Template};
pub use watch::{Changed, DEBOUNCE, IGNORED_DIRS, Matcher, Watch};
