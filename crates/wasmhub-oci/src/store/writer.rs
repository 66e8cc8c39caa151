//! Writing to the store under its lock.
//!
//! # Why a lock, and which
//!
//! A pull writes blobs first and the reference last, and it reuses blobs the store already
//! holds. Between the two, those blobs are reachable from no reference, so a `gc` that ran
//! then would delete what the pull is about to point at. Timestamps cannot tell such a blob
//! from garbage (a reused blob is old), and process ids say nothing across PID namespaces
//! or hosts sharing the directory. So the store has one lock file, `<root>/lock`, taken
//! with `flock(2)`:
//!
//! - every writer (pull, push) holds it *shared* from before it looks for a blob until its
//!   reference is written ([`Writer`]); writers do not exclude each other;
//! - `gc` holds it *exclusive* while it reads the references and sweeps, so it runs only
//!   when no writer is between its first blob and its reference;
//! - temp files (`tmp/`) are written only by a writer holding the lock, so whoever holds it
//!   exclusive knows every temp file is a left-over of a writer that is gone.
//!
//! The kernel drops a lock when its holder dies (`kill -9` included), so a crashed pull never
//! blocks the store; the lock is on the open file, so it works the same in any PID namespace
//! and on filesystems that pass `flock` through (local, and NFS as a POSIX lock).

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::Store;
use crate::digest::{Digest, Hashing};
use crate::reference::Reference;

/// The store's lock file, opened (created if missing).
pub(super) fn open_lock(store: &Store) -> Result<fs::File> {
    let path = store.root().join("lock");
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the content store's lock {}", path.display()))
}

/// The right to add blobs and references: the store's lock, held shared (see the module
/// doc). Dropping it releases the lock.
pub struct Writer<'a> {
    store: &'a Store,
    _lock: fs::File,
}

impl Store {
    /// Takes the store's lock shared, waiting while a `gc` runs. When no other writer holds
    /// it, temp files left by writers that died are removed first.
    pub fn writer(&self) -> Result<Writer<'_>> {
        {
            let sole = open_lock(self)?;
            if sole.try_lock().is_ok() {
                self.remove_temps();
            }
        }
        let lock = open_lock(self)?;
        lock.lock_shared().with_context(|| {
            format!("cannot lock the content store at {}", self.root().display())
        })?;
        Ok(Writer {
            store: self,
            _lock: lock,
        })
    }
}

impl Writer<'_> {
    /// Starts writing a blob that must hash to `expected`; nothing is visible until
    /// [`Incoming::commit`].
    pub fn incoming(&self, expected: &Digest) -> Result<Incoming> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{}.", expected.short()))
            .tempfile_in(self.store.root().join("tmp"))
            .context("cannot create a temp file in the content store")?;
        Ok(Incoming {
            writer: Hashing::new(tmp),
            expected: expected.clone(),
            dest: self.store.blob_path(expected),
        })
    }

    /// Stores `bytes` as a blob (unless the store holds it intact) and returns its digest.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if self.store.verified(&digest)?.is_none() {
            let mut incoming = self.incoming(&digest)?;
            incoming.write_all(bytes)?;
            incoming.commit()?;
        }
        Ok(digest)
    }

    /// Records that `reference` resolves to manifest `digest` (and so does the reference
    /// by that digest).
    pub fn set_ref(&self, reference: &Reference, digest: &Digest) -> Result<()> {
        let mut targets = vec![reference.at(digest)];
        if reference.tag.is_some() {
            targets.push(Reference {
                digest: None,
                ..reference.clone()
            });
        }
        for r in targets {
            let path = self.store.ref_path(&r)?;
            let dir = path.parent().unwrap_or(self.store.root());
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let mut tmp = tempfile::Builder::new()
                .prefix("ref.")
                .tempfile_in(self.store.root().join("tmp"))
                .context("cannot create a temp file in the content store")?;
            tmp.write_all(digest.to_string().as_bytes())
                .context("cannot write a temp file in the content store")?;
            tmp.persist(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}

/// A blob being written; it lands in the store only if its content matches the digest.
pub struct Incoming {
    writer: Hashing<tempfile::NamedTempFile>,
    expected: Digest,
    dest: PathBuf,
}

/// A blob whose bytes did not hash to the digest it was fetched under.
#[derive(Debug, thiserror::Error)]
#[error("blob {expected} arrived as {actual} ({len} bytes): the content does not match its digest")]
pub struct Mismatch {
    /// The digest it was fetched under.
    pub expected: Digest,
    /// The digest of what arrived.
    pub actual: Digest,
    /// How many bytes arrived.
    pub len: u64,
}

impl Incoming {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.writer.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.writer.is_empty()
    }

    /// Checks the digest, syncs, and moves the blob into place; on a mismatch the temp
    /// file is removed and nothing is stored.
    pub fn commit(self) -> Result<PathBuf> {
        let len = self.writer.len();
        let (tmp, actual) = self.writer.finish();
        if actual != self.expected {
            drop(tmp);
            return Err(Mismatch {
                expected: self.expected,
                actual,
                len,
            }
            .into());
        }
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("cannot sync {}", tmp.path().display()))?;
        tmp.persist(&self.dest)
            .with_context(|| format!("cannot store {}", self.dest.display()))?;
        Ok(self.dest)
    }
}

impl Write for Incoming {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}
