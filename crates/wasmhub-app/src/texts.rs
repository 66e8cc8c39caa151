//! The manifest files an app is read from, each with the exact text parsed.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Where an app's manifest texts come from: the disk (each file read once per load, and
/// kept), or given (a tenant's worker reads its generation's app from the texts the
/// server parsed, never from the disk, which may have changed since).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Texts {
    files: BTreeMap<PathBuf, String>,
    given: bool,
}

impl Texts {
    /// Texts read from the disk as they are asked for.
    pub fn from_disk() -> Self {
        Self::default()
    }

    /// These texts only: a path not among them cannot be read.
    pub fn given(files: BTreeMap<PathBuf, String>) -> Self {
        Self { files, given: true }
    }

    /// Whether these are given texts (not the disk).
    pub fn is_given(&self) -> bool {
        self.given
    }

    /// The text of `path`: the one already read (or given), else read from the disk now.
    pub fn read(&mut self, path: &Path) -> io::Result<String> {
        if let Some(text) = self.files.get(path) {
            return Ok(text.clone());
        }
        if self.given {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "not among the manifest texts the server read for this generation",
            ));
        }
        let text = std::fs::read_to_string(path)?;
        self.files.insert(path.to_owned(), text.clone());
        Ok(text)
    }

    /// The texts read (or given), by path.
    pub fn files(&self) -> &BTreeMap<PathBuf, String> {
        &self.files
    }

    /// [`Texts::files`], taken.
    pub fn into_files(self) -> BTreeMap<PathBuf, String> {
        self.files
    }
}
