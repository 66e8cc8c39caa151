//! A scratch directory for tests, removed on drop (the core crate has no tempfile).

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// A private directory under the temp dir, removed on drop.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    /// A new empty directory whose name starts with `name`.
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "wasmhub-core-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        Self(dir)
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
