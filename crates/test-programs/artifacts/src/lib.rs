//! Paths of the guest components built by `cargo xtask guests`, one constant per guest.

#![deny(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The guest's path, or a panic that says how to build it.
pub fn guest(path: &str) -> &str {
    assert!(
        std::path::Path::new(path).exists(),
        "guest {path} is not built: run `cargo xtask guests` (or `cargo xtask test`)"
    );
    path
}
