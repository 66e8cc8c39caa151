//! On-disk cache of compiled components, keyed by content digest and engine configuration.
//!
//! Layout under the cache directory:
//! - `<engine>/<sha256>.cwasm`: compiled code, written atomically, mapped (not read) on use;
//! - `<engine>/by-file/<key>`: the sha256 of a file, keyed by its path and metadata, so a warm
//!   start neither reads nor hashes the `.wasm`.
//!
//! A missing, stale or corrupt entry is recompiled and replaced; the cache never fails a load.
//!
//! Compiled code is trusted code, so the cache is used only when the directory, its
//! subdirectories and the entries read are owned by the current user and writable by no
//! one else; otherwise the cache is skipped with a warning (see [`trusted`]).
//!
//! A writer holds an exclusive `flock` on its temp file until it is renamed into place; a
//! temp file whose lock can be taken belongs to a writer that is gone (killed mid-write),
//! whatever PID namespace or host it ran in, and is removed.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::load::{LoadError, Loaded};

/// Where compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Mapped from a cache entry.
    Hit,
    /// Compiled now and stored.
    Miss,
    /// No cache in use.
    Disabled,
}

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    /// A cache rooted at `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default location: `$WASMHUB_CACHE_DIR`, else `$XDG_CACHE_HOME/wasmhub`, else `~/.cache/wasmhub`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("WASMHUB_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("wasmhub")))
            .or_else(|| var("HOME").map(|d| d.join(".cache").join("wasmhub")))
    }

    /// The cache's root directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn engine_dir(&self, engine: &Engine) -> PathBuf {
        let mut h = Sha256Hasher(Sha256::new());
        env!("CARGO_PKG_VERSION").hash(&mut h);
        engine.precompile_compatibility_hash().hash(&mut h);
        let digest = h.0.finalize();
        self.dir.join(hex::encode(&digest[..8]))
    }

    fn file_key(path: &Path) -> Option<String> {
        let meta = std::fs::metadata(path).ok()?;
        let canonical = std::fs::canonicalize(path).ok()?;
        let mut h = Sha256::new();
        h.update(canonical.as_os_str().as_encoded_bytes());
        for n in [
            meta.len() as i64,
            meta.ino() as i64,
            meta.dev() as i64,
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ctime(),
            meta.ctime_nsec(),
        ] {
            h.update(n.to_le_bytes());
        }
        Some(hex::encode(h.finalize()))
    }

    /// Whether the cache directory and `engine`'s directory in it may be used (a warning is
    /// printed once when they may not).
    fn usable(&self, dir: &Path) -> bool {
        self.usable_dirs(&[dir, &dir.join("by-file")])
    }

    /// Whether the cache directory and each of `dirs` in it may be used (a warning is
    /// printed once when they may not).
    pub(crate) fn usable_dirs(&self, dirs: &[&Path]) -> bool {
        for d in std::iter::once(self.dir.as_path()).chain(dirs.iter().copied()) {
            match trusted(d) {
                // Missing, or not a directory: nothing to map from there, nothing to refuse.
                Ok(()) | Err(Trust::Unknown) => {}
                Err(Trust::Refused(e)) => {
                    static WARNED: Once = Once::new();
                    WARNED.call_once(|| {
                        eprintln!(
                            "warning: not using the compile cache {}: {e}; compiling without it (make it yours and private: `chmod go-w` it, or set WASMHUB_CACHE_DIR to a directory of your own)",
                            self.dir.display()
                        );
                    });
                    tracing::warn!(cache = %self.dir.display(), "compile cache not used: {e}");
                    return false;
                }
            }
        }
        true
    }

    /// Maps the compiled code for `path` if the file is unchanged since it was cached.
    pub(crate) fn lookup(&self, engine: &Engine, path: &Path) -> Option<Loaded> {
        let dir = self.engine_dir(engine);
        if !self.usable(&dir) {
            return None;
        }
        let key = Self::file_key(path)?;
        let digest = read_trusted(&dir.join("by-file").join(key))?;
        let digest = String::from_utf8(digest).ok()?;
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let component = Self::map(engine, &dir.join(format!("{digest}.cwasm")))?;
        let size = std::fs::metadata(path).ok()?.len();
        Some(Loaded {
            component,
            digest,
            outcome: CacheOutcome::Hit,
            size,
        })
    }

    fn map(engine: &Engine, cwasm: &Path) -> Option<Component> {
        trusted(cwasm).ok()?;
        // SAFETY: entries are written only by this cache (atomically, via rename) from
        // `Component::serialize` of the same engine configuration, which the directory name
        // encodes; the directories and the entry are the current user's and writable by no
        // one else (checked above and by `usable`); Wasmtime re-checks the header, version
        // and configuration on load and rejects truncated or foreign files, which we then
        // recompile.
        unsafe { Component::deserialize_file(engine, cwasm) }.ok()
    }

    /// Finds `bytes` by digest, or compiles them with `compile` and stores the result.
    pub(crate) fn compile_and_store(
        &self,
        engine: &Engine,
        path: &Path,
        bytes: &[u8],
        compile: impl FnOnce(&[u8]) -> Result<Component, LoadError>,
    ) -> Result<Loaded, LoadError> {
        let dir = self.engine_dir(engine);
        let digest = sha256_hex(bytes);
        let cwasm = dir.join(format!("{digest}.cwasm"));
        if !self.usable(&dir) {
            return Ok(Loaded {
                component: compile(bytes)?,
                digest,
                outcome: CacheOutcome::Disabled,
                size: bytes.len() as u64,
            });
        }
        remove_dead_temps(&dir);
        let (component, outcome) = match Self::map(engine, &cwasm) {
            Some(c) => (c, CacheOutcome::Hit),
            None => {
                let component = compile(bytes)?;
                if let Ok(serialized) = component.serialize() {
                    // A cache that cannot be written only costs speed.
                    let _ = write_atomic(&cwasm, &serialized);
                }
                (component, CacheOutcome::Miss)
            }
        };
        if let Some(key) = Self::file_key(path) {
            let _ = write_atomic(&dir.join("by-file").join(key), digest.as_bytes());
        }
        Ok(Loaded {
            component,
            digest,
            outcome,
            size: bytes.len() as u64,
        })
    }
}

/// Hex sha256 of `bytes`: how the cache (and a reloading server) names a component's code.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Why a cache path is not trusted.
#[derive(Debug)]
pub(crate) enum Trust {
    /// It cannot be examined (missing, not reachable): there is nothing there to use.
    Unknown,
    /// It is someone else's or others may write it: whatever is there must not be used.
    Refused(String),
}

/// Whether `path` (followed if a symlink) is owned by the current user and writable by no
/// one else; the refusal says which of the two fails.
pub(crate) fn trusted(path: &Path) -> Result<(), Trust> {
    let meta = std::fs::metadata(path).map_err(|_| Trust::Unknown)?;
    check_owner_and_mode(path, &meta).map_err(Trust::Refused)
}

fn check_owner_and_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    let me = effective_uid()?;
    if meta.uid() != me {
        return Err(format!(
            "{} is owned by uid {}, not by the current user (uid {me})",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by other users (mode {:o})",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// The file's bytes if it is [`trusted`] (checked on the open file, not the name).
pub(crate) fn read_trusted(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    check_owner_and_mode(path, &f.metadata().ok()?).ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// The process's effective user id, from `/proc/self/status` (the core crate has no libc).
fn effective_uid() -> Result<u32, String> {
    static UID: OnceLock<Option<u32>> = OnceLock::new();
    let uid = UID.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("Uid:"))?;
        line.split_whitespace().nth(2)?.parse().ok()
    });
    uid.ok_or_else(|| "cannot tell the current user (no /proc/self/status)".to_owned())
}

/// Removes the temporary files (`.tmp-*`) of writers that are gone, here and in `by-file/`:
/// a writer holds an exclusive lock on its temp file until the rename, so a file whose lock
/// can be taken now has no writer. (A writer that has just created its file and not yet
/// locked it can lose it here; its rename then fails, which only skips that cache write.)
fn remove_dead_temps(dir: &Path) {
    for d in [dir.to_owned(), dir.join("by-file")] {
        remove_dead_temps_in(&d);
    }
}

/// [`remove_dead_temps`] of one directory.
pub(crate) fn remove_dead_temps_in(d: &Path) {
    {
        for entry in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if !entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                continue;
            }
            let Ok(file) = std::fs::File::open(entry.path()) else {
                continue;
            };
            if file.try_lock().is_ok() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The name prefix of temp files.
const TMP_PREFIX: &str = ".tmp-";

/// Creates `path` and any missing parents, writable by the owner only (whatever the umask).
pub(crate) fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
}

/// Writes `bytes` to a temporary file beside `dest` (locked while written), then renames it
/// into place.
fn write_atomic(dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(dest, bytes, true, None)
}

/// [`write_atomic`], syncing the data to disk first when `durable` (an entry whose reader
/// checks its own digest can skip that), with the temporary file in `tmp_dir` (same file
/// system) instead of beside `dest` when given.
pub(crate) fn write_atomic_with(
    dest: &Path,
    bytes: &[u8],
    durable: bool,
    tmp_dir: Option<&Path>,
) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let parent = dest.parent().expect("cache paths have a parent");
    create_private_dir(parent)?;
    let parent = match tmp_dir {
        Some(d) => {
            create_private_dir(d)?;
            d
        }
        None => parent,
    };
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let (tmp, mut f) = loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let tmp = parent.join(format!(
            "{TMP_PREFIX}{}-{nanos:x}-{}-{name}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
    let written = f
        .lock()
        .and_then(|()| f.write_all(bytes))
        .and_then(|()| if durable { f.sync_data() } else { Ok(()) })
        .and_then(|()| std::fs::rename(&tmp, dest));
    drop(f);
    written.inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Feeds `Hash` output into sha256, for a digest that is stable across processes.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        unreachable!("only the sha256 digest is read")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::scratch::Scratch;

    /// The smallest component: the header alone.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";

    fn load(cache: &CompileCache, engine: &Engine, path: &Path) -> CacheOutcome {
        if let Some(hit) = cache.lookup(engine, path) {
            return hit.outcome;
        }
        cache
            .compile_and_store(engine, path, EMPTY, |b| {
                Ok(Component::from_binary(engine, b).unwrap())
            })
            .unwrap()
            .outcome
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_cache_others_can_write_is_not_used() {
        let dir = Scratch::new("untrusted");
        let engine = Engine::default();
        let wasm = dir.path().join("c.wasm");
        std::fs::write(&wasm, EMPTY).unwrap();
        let cache = CompileCache::new(dir.path().join("cache"));
        assert_eq!(load(&cache, &engine, &wasm), CacheOutcome::Miss);
        assert_eq!(load(&cache, &engine, &wasm), CacheOutcome::Hit);
        let engine_dir = cache.engine_dir(&engine);
        // Group- or world-writable, at any level: compiled without the cache.
        for d in [
            cache.dir.clone(),
            engine_dir.clone(),
            engine_dir.join("by-file"),
        ] {
            for mode in [0o777, 0o775] {
                chmod(&d, mode);
                assert_eq!(
                    load(&cache, &engine, &wasm),
                    CacheOutcome::Disabled,
                    "{} at {mode:o}",
                    d.display()
                );
                chmod(&d, 0o755);
            }
        }
        assert_eq!(load(&cache, &engine, &wasm), CacheOutcome::Hit);
        // An entry others could have written is not mapped; it is compiled and replaced.
        let cwasm = engine_dir.join(format!("{}.cwasm", sha256_hex(EMPTY)));
        chmod(&cwasm, 0o666);
        assert!(cache.lookup(&engine, &wasm).is_none());
        assert_eq!(load(&cache, &engine, &wasm), CacheOutcome::Miss);
        assert_eq!(load(&cache, &engine, &wasm), CacheOutcome::Hit);
    }

    #[test]
    fn a_cache_of_another_user_is_not_used() {
        if effective_uid().unwrap() != 0 {
            // Only root can give a directory away; the mode test covers the check otherwise.
            return;
        }
        let dir = Scratch::new("owner");
        let engine = Engine::default();
        let wasm = dir.path().join("c.wasm");
        std::fs::write(&wasm, EMPTY).unwrap();
        let cache = CompileCache::new(dir.path().join("cache"));
        assert_eq!(load(&cache, &engine, &wasm), CacheOutcome::Miss);
        std::os::unix::fs::chown(&cache.dir, Some(65534), None).unwrap();
        assert_eq!(load(&cache, &engine, &wasm), CacheOutcome::Disabled);
        let Err(Trust::Refused(e)) = trusted(&cache.dir) else {
            panic!("a directory of uid 65534 is trusted");
        };
        assert!(
            e.contains("is owned by uid 65534, not by the current user"),
            "{e}"
        );
    }

    #[test]
    fn temp_files_are_removed_only_when_no_writer_holds_them() {
        let dir = Scratch::new("temps");
        // A writer in another PID namespace: its pid means nothing here; it holds the lock.
        let live = dir.path().join(".tmp-999999999-1-a.cwasm");
        let writer = std::fs::File::create(&live).unwrap();
        writer.lock().unwrap();
        // A dead writer whose pid happens to be a live process here (ours).
        let dead = dir
            .path()
            .join(format!(".tmp-{}-2-b.cwasm", std::process::id()));
        std::fs::write(&dead, b"half").unwrap();
        remove_dead_temps(dir.path());
        assert!(live.exists(), "a live writer's temp file was removed");
        assert!(!dead.exists(), "a dead writer's temp file was kept");
        drop(writer);
        remove_dead_temps(dir.path());
        assert!(!live.exists());
    }
}
