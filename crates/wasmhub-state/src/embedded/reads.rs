//! Reads without a thread hop or a new transaction each time: one snapshot (a read
//! transaction with its tables open) is shared until the writer commits again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use redb::{Database, ReadOnlyTable, ReadableDatabase};

use super::tables::{ENTRIES, USAGE};

/// The tables as of one commit.
pub struct Snapshot {
    generation: u64,
    /// `(label, key)` to `(revision, value)`.
    pub entries: ReadOnlyTable<(&'static str, &'static str), (u64, &'static [u8])>,
    /// `label` to `(keys, bytes)`.
    pub usage: ReadOnlyTable<&'static str, (u64, u64)>,
}

/// The shared snapshot and the commit generation it must match.
#[derive(Default)]
pub struct Reads {
    generation: AtomicU64,
    current: Mutex<Option<Arc<Snapshot>>>,
}

impl Reads {
    /// A snapshot that includes every commit acknowledged so far.
    pub fn snapshot(&self, db: &Database) -> Result<Arc<Snapshot>, redb::Error> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(s) = &*self.lock()
            && s.generation == generation
        {
            return Ok(s.clone());
        }
        // Begun after `generation` was read, so it includes the commit that set it.
        let txn = db.begin_read()?;
        let snapshot = Arc::new(Snapshot {
            generation,
            entries: txn.open_table(ENTRIES)?,
            usage: txn.open_table(USAGE)?,
        });
        let mut current = self.lock();
        // Kept only while current: a stale snapshot would pin pages the file could reuse.
        if self.generation.load(Ordering::Acquire) == generation {
            *current = Some(snapshot.clone());
        }
        Ok(snapshot)
    }

    /// Called by the writer after each commit, before acknowledging its writes.
    pub fn committed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock().take();
    }

    /// Lets go of the shared snapshot (before the database closes).
    pub fn release(&self) {
        self.lock().take();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<Snapshot>>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}
