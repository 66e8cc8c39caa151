//! Manifest errors: every one names the file, the line and what to change.

use std::path::PathBuf;

/// A manifest that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {path}")]
    Read {
        /// The manifest.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key, a wrong type or a bad value.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The manifest.
        path: PathBuf,
        /// 1-based line of the offending value.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// 1-based line number of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}
