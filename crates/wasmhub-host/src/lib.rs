//! Runs components: links WASI from grants, runs commands, invokes typed exports, inspects.

#![deny(missing_docs)]

mod concurrent;
mod exports;
mod graph;
mod inspect;
mod invoke;
mod json;
mod linker;
mod load;
mod outbound;
mod pace;
mod run;
mod signature;
mod state;
mod ungranted;

pub use exports::{ExportedFunc, FuncLookupError, exported_funcs, find_func};
pub use graph::{Driver, Graph, LinkCtx, Resolved, Session};
pub use inspect::{ComponentKind, Inspection, inspect};
pub use invoke::{Invocation, InvokeError, invoke, parse_call};
pub use json::val_to_json;
pub use linker::{
    MissingImport, MissingReason, add_wasi3, admit, check_imports, cli_linker, uses_wasi3,
};
pub use load::{check_size_of, describe_component, load_checked, load_checked_code};
pub use outbound::{Outbound, Sent, Via, allows, send_through};
pub use pace::{Lane, Lanes, PAUSE, SHORT_TICKS};
pub use run::{RunError, run_command};
pub use signature::{func_signature, type_name, type_text};
pub use state::{HostState, MeteredState, MeteredStore, new_store};
pub use ungranted::{HasUngranted, Ungranted, link_ungranted};
