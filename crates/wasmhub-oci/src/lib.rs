//! Components in OCI registries: push and pull in the Wasm artifact layout `wkg` uses, and
//! the local content store every pull lands in.

#![deny(missing_docs)]

pub mod auth;
pub mod digest;
pub mod layout;
pub mod progress;
pub mod push;
pub mod reference;
pub mod registry;
pub mod store;

pub use auth::Credentials;
pub use digest::Digest;
pub use push::{Pushed, push};
pub use reference::Reference;
pub use registry::{Options, Pulled, install_crypto, pull, resolve, stored};
pub use store::{Collected, Entry, Store, Writer};
