//! On-disk cache of compiled components, keyed by content digest and engine configuration.
//!
//! Layout under the cache directory:
//! - `<engine>/<sha256>.cwasm`: compiled code, written atomically, mapped (not read) on use;
//! - `<engine>/by-file/<key>`: the sha256 of a file, keyed by its path and metadata, so a warm
//!   start neither reads nor hashes the `.wasm`.
//!
//! A missing, stale or corrupt entry is recompiled and replaced; the cache never fails a load.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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

    /// Maps the compiled code for `path` if the file is unchanged since it was cached.
    pub(crate) fn lookup(&self, engine: &Engine, path: &Path) -> Option<Loaded> {
        let dir = self.engine_dir(engine);
        let key = Self::file_key(path)?;
        let digest = std::fs::read_to_string(dir.join("by-file").join(key)).ok()?;
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
        // SAFETY: entries are written only by this cache (atomically, via rename) from
        // `Component::serialize` of the same engine configuration, which the directory name
        // encodes; Wasmtime re-checks the header, version and configuration on load and
        // rejects truncated or foreign files, which we then recompile.
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

/// Hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Removes the temporary files of writers that were killed before renaming them
/// (`.tmp-PID-NAME`, where no process PID runs any more), here and in `by-file/`.
fn remove_dead_temps(dir: &Path) {
    for d in [dir.to_owned(), dir.join("by-file")] {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let dead = name
                .to_string_lossy()
                .strip_prefix(".tmp-")
                .and_then(|rest| rest.split_once('-'))
                .and_then(|(pid, _)| pid.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if dead {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Writes `bytes` to a temporary file beside `dest`, then renames it into place.
fn write_atomic(dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = dest.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        dest.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_data()?;
    drop(f);
    std::fs::rename(&tmp, dest).inspect_err(|_| {
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
