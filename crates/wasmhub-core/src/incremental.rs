//! Cranelift's per-function compilation cache, on disk beside the compile cache: a component
//! that changed in a few functions (an edited handler in a 12 MB JavaScript or Python
//! component) compiles only those again.
//!
//! Layout: `<cache>/functions/<k0>/<k1..>` (written in `functions/.tmp/`, then renamed),
//! one file per function, named by Cranelift's
//! key (a sha256 of the function's body and the target's settings). A file holds
//! `sha256(key ++ value) ++ value`; a reader checks that digest, so a torn or misplaced
//! entry (even one of ours under another name) is never used, only recompiled. Entries are
//! compiled code, so the trust rules of the compile cache apply: directories and entries
//! must be the current user's and writable by no one else.
//!
//! The store is bounded: at most once a day (a stamp file says when), a background thread
//! removes the least recently read entries once they pass [`PRUNE_ABOVE`] bytes.

use std::borrow::Cow;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::CacheStore;

use crate::cache::{
    CompileCache, create_private_dir, read_trusted, remove_dead_temps_in, write_atomic_with,
};

/// Length of the digest that prefixes every entry.
const DIGEST: usize = 32;

/// Size past which the least recently read entries are removed...
pub const PRUNE_ABOVE: u64 = 2 << 30;
/// ...until this much is left.
const PRUNE_TO: u64 = 3 << 29;
/// How often the store's size is looked at.
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);
/// The stamp whose modification time says when the store was last pruned.
const STAMP: &str = ".pruned";
/// The directory of entries being written.
const TMP: &str = ".tmp";

/// Hits, misses and writes of an [`IncrementalStore`] since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IncrementalStats {
    /// Functions whose compiled code was reused.
    pub hits: u64,
    /// Functions looked up and not found (compiled now).
    pub misses: u64,
    /// Entries written.
    pub writes: u64,
}

/// Per-function compiled code on disk, handed to Wasmtime as its incremental cache.
#[derive(Debug)]
pub struct IncrementalStore {
    dir: PathBuf,
    hits: AtomicU64,
    misses: AtomicU64,
    writes: AtomicU64,
}

impl IncrementalStore {
    /// The store inside `cache`, or `None` (with the compile cache's warning) when its
    /// directories may not be trusted.
    pub fn open(cache: &CompileCache) -> Option<Arc<Self>> {
        let dir = cache.dir().join("functions");
        if !cache.usable_dirs(&[&dir]) {
            return None;
        }
        // Writers killed mid-write leave their temporary files here.
        remove_dead_temps_in(&dir.join(TMP));
        if prune_due(&dir) {
            let dir = dir.clone();
            // Only costs disk while it has not run; never holds up the caller.
            std::thread::spawn(move || prune(&dir, PRUNE_ABOVE, PRUNE_TO));
        }
        Some(Arc::new(Self {
            dir,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }))
    }

    /// What the store has done so far.
    pub fn stats(&self) -> IncrementalStats {
        IncrementalStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }

    fn path(&self, key: &[u8]) -> PathBuf {
        let name = hex::encode(key);
        let (shard, rest) = name.split_at(name.len().min(2));
        self.dir.join(shard).join(rest)
    }

    fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut entry = read_trusted(&self.path(key))?;
        if entry.len() < DIGEST || entry[..DIGEST] != digest(key, &entry[DIGEST..])[..] {
            return None;
        }
        entry.drain(..DIGEST);
        Some(entry)
    }
}

fn digest(key: &[u8], value: &[u8]) -> [u8; DIGEST] {
    let mut h = Sha256::new();
    h.update((key.len() as u64).to_le_bytes());
    h.update(key);
    h.update(value);
    h.finalize().into()
}

impl CacheStore for IncrementalStore {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let found = self.lookup(key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found.map(Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let mut entry = Vec::with_capacity(DIGEST + value.len());
        entry.extend_from_slice(&digest(key, &value));
        entry.extend_from_slice(&value);
        // Not synced: a torn entry fails its digest and is compiled again.
        let written =
            write_atomic_with(&self.path(key), &entry, false, Some(&self.dir.join(TMP))).is_ok();
        if written {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
        written
    }
}

/// Whether the store at `dir` was last pruned more than [`PRUNE_EVERY`] ago (or never);
/// claims the turn by touching the stamp.
fn prune_due(dir: &Path) -> bool {
    let stamp = dir.join(STAMP);
    let last = std::fs::metadata(&stamp).and_then(|m| m.modified()).ok();
    let due = last.is_none_or(|t| t.elapsed().is_ok_and(|age| age >= PRUNE_EVERY));
    // No directory yet: nothing to prune, and the first compile will make it.
    due && create_private_dir(dir).is_ok() && std::fs::write(&stamp, b"").is_ok()
}

/// Removes the least recently read entries of the store at `dir` while it holds more
/// than `above` bytes, until `to` bytes are left; returns how many were removed.
fn prune(dir: &Path, above: u64, to: u64) -> usize {
    let mut entries = Vec::new();
    for shard in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if shard.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for e in std::fs::read_dir(shard.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(m) = e.metadata()
                && m.is_file()
            {
                entries.push((m.atime(), m.len(), e.path()));
            }
        }
    }
    let mut total: u64 = entries.iter().map(|e| e.1).sum();
    if total <= above {
        return 0;
    }
    entries.sort_unstable_by_key(|e| e.0);
    let mut removed = 0;
    for (_, len, path) in entries {
        if total <= to {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
            removed += 1;
        }
    }
    tracing::info!(dir = %dir.display(), removed, "function cache pruned");
    removed
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use std::time::SystemTime;
    use wasmtime::component::{Component, Linker};

    use wasmtime::{Engine, Store};

    use super::*;
    use crate::scratch::Scratch;

    fn store(dir: &Path) -> Arc<IncrementalStore> {
        IncrementalStore::open(&CompileCache::new(dir)).expect("a private cache is usable")
    }

    /// A component exporting `f` (returns `answer`) and `g` (always the same body).
    fn component(answer: u32) -> String {
        format!(
            r#"(component
                (core module $m
                    (func (export "f") (result i32) i32.const {answer})
                    (func (export "g") (param i32) (result i32)
                        local.get 0 i32.const 7 i32.mul i32.const 3 i32.add))
                (core instance $i (instantiate $m))
                (func (export "f") (result u32) (canon lift (core func $i "f")))
                (func (export "g") (param "x" u32) (result u32) (canon lift (core func $i "g"))))"#
        )
    }

    fn call_f(engine: &Engine, wat: &str) -> u32 {
        let component = Component::new(engine, wat).unwrap();
        let mut store = Store::new(engine, ());
        let instance = Linker::new(engine)
            .instantiate(&mut store, &component)
            .unwrap();
        let f = instance
            .get_typed_func::<(), (u32,)>(&mut store, "f")
            .unwrap();
        f.call(&mut store, ()).unwrap().0
    }

    #[test]
    fn an_edited_component_reuses_its_unchanged_functions() {
        let dir = Scratch::new("incremental");
        let s = store(dir.path());
        let engine = crate::new_engine_with(
            crate::EngineKind::OneShot(Default::default()),
            Some(s.clone()),
        )
        .unwrap();
        assert_eq!(call_f(&engine, &component(1)), 1);
        let first = s.stats();
        assert_eq!(first.hits, 0, "{first:?}");
        assert!(first.writes >= 2, "{first:?}");
        // One function body changed: the other comes from the store, the code is the new one.
        assert_eq!(call_f(&engine, &component(2)), 2);
        let second = s.stats();
        assert!(second.hits > first.hits, "{second:?}");
        assert!(second.misses > first.misses, "{second:?}");
        // A new process (a new store on the same directory) reuses everything.
        let again = store(dir.path());
        let engine = crate::new_engine_with(
            crate::EngineKind::OneShot(Default::default()),
            Some(again.clone()),
        )
        .unwrap();
        assert_eq!(call_f(&engine, &component(2)), 2);
        assert_eq!(again.stats().misses, 0, "{:?}", again.stats());
    }

    #[test]
    fn a_torn_misplaced_or_exposed_entry_is_not_used() {
        let dir = Scratch::new("incremental-bad");
        let s = store(dir.path());
        assert!(s.insert(b"key-a", b"code of a".to_vec()));
        assert!(s.insert(b"key-b", b"code of b".to_vec()));
        assert_eq!(s.get(b"key-a").as_deref(), Some(&b"code of a"[..]));
        // Torn: cut short.
        let a = s.path(b"key-a");
        let bytes = std::fs::read(&a).unwrap();
        std::fs::write(&a, &bytes[..bytes.len() - 2]).unwrap();
        assert_eq!(s.get(b"key-a"), None);
        // Misplaced: b's (valid) entry under a's name.
        std::fs::copy(s.path(b"key-b"), &a).unwrap();
        assert_eq!(s.get(b"key-a"), None);
        // Exposed: others may write it.
        let b = s.path(b"key-b");
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(s.get(b"key-b"), None);
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(s.get(b"key-b").as_deref(), Some(&b"code of b"[..]));
        // A store others may write is not opened at all.
        let functions = dir.path().join("functions");
        std::fs::set_permissions(&functions, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(IncrementalStore::open(&CompileCache::new(dir.path())).is_none());
    }

    #[test]
    fn pruning_removes_the_least_recently_read_first() {
        let dir = Scratch::new("incremental-prune");
        let s = store(dir.path());
        let keys: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 32]).collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(s.insert(k, vec![0; 1000]));
            // Read times one second apart, oldest first.
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + i as u64);
            std::fs::File::options()
                .write(true)
                .open(s.path(k))
                .unwrap()
                .set_times(std::fs::FileTimes::new().set_accessed(t))
                .unwrap();
        }
        let entry = 1000 + DIGEST as u64;
        assert_eq!(prune(&s.dir, 6 * entry, 0), 0, "under the bound: kept");
        assert_eq!(prune(&s.dir, 5 * entry, 3 * entry), 3);
        let kept: Vec<bool> = keys.iter().map(|k| s.path(k).exists()).collect();
        assert_eq!(kept, [false, false, false, true, true, true]);
        // Due once a day: the first look claims the turn.
        let fresh = Scratch::new("incremental-due");
        let d = fresh.path().join("functions");
        assert!(prune_due(&d));
        assert!(!prune_due(&d));
    }
}
