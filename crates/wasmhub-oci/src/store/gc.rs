//! Collecting garbage: blobs no reference reaches and temp files of writers that are gone.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::writer::open_lock;
use super::{MAX_MANIFEST, Store, walk};
use crate::digest::Digest;

/// What `gc` removed, and what it could not judge.
#[derive(Debug, Default)]
pub struct Collected {
    /// Blobs no reference reaches.
    pub blobs: usize,
    /// Left-over temp files.
    pub temps: usize,
    /// Bytes freed.
    pub bytes: u64,
    /// References that could not be read; while there are any, no blob is removed (one of
    /// them may reach it).
    pub unreadable: Vec<Unreadable>,
}

/// A reference file `gc` could not read.
#[derive(Debug)]
pub struct Unreadable {
    /// The file under `refs/`.
    pub path: PathBuf,
    /// Why.
    pub error: anyhow::Error,
}

impl Store {
    /// Removes blobs no reference reaches and temp files left by writers that died. Takes
    /// the store's lock exclusive (see [`super::writer`]): while a pull or push is under
    /// way it calls `on_wait` once and waits for it to finish.
    pub fn gc(&self, on_wait: impl FnOnce()) -> Result<Collected> {
        let lock = open_lock(self)?;
        if let Err(e) = lock.try_lock() {
            if !matches!(e, fs::TryLockError::WouldBlock) {
                return Err(io::Error::from(e)).with_context(|| {
                    format!("cannot lock the content store at {}", self.root().display())
                });
            }
            on_wait();
            lock.lock().with_context(|| {
                format!("cannot lock the content store at {}", self.root().display())
            })?;
        }
        let mut collected = Collected::default();
        let mut live = HashSet::new();
        for file in walk(&self.root().join("refs"))? {
            let manifest = match self.ref_file(&file) {
                Ok(d) => d,
                Err(error) => {
                    collected.unreadable.push(Unreadable { path: file, error });
                    continue;
                }
            };
            if let Some(bytes) = self.read(&manifest, MAX_MANIFEST)? {
                live.extend(crate::layout::referenced_blobs(&bytes));
            }
            live.insert(manifest);
        }
        if collected.unreadable.is_empty() {
            for file in walk(&self.root().join("blobs/sha256"))? {
                let name = file.file_name().unwrap_or_default().to_string_lossy();
                let keep =
                    Digest::parse(&format!("sha256:{name}")).is_ok_and(|d| live.contains(&d));
                if !keep {
                    collected.bytes += fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
                    fs::remove_file(&file)
                        .with_context(|| format!("cannot remove {}", file.display()))?;
                    collected.blobs += 1;
                }
            }
        }
        let (temps, bytes) = self.remove_temps();
        collected.temps = temps;
        collected.bytes += bytes;
        Ok(collected)
    }

    /// Removes every temp file; only for a caller holding the lock exclusive, when every
    /// temp file is a left-over. Returns how many and their bytes.
    pub(super) fn remove_temps(&self) -> (usize, u64) {
        let (mut count, mut bytes) = (0, 0);
        for file in walk(&self.root().join("tmp")).unwrap_or_default() {
            let len = fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            if fs::remove_file(&file).is_ok() {
                count += 1;
                bytes += len;
            }
        }
        (count, bytes)
    }
}
