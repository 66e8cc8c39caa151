//! Reading a component from disk: what kind of file it is, and the clear errors when it is not one.

use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::cache::{CacheOutcome, CompileCache};

/// What a file holds, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WasmKind {
    /// A WebAssembly component (what wasmhub runs).
    Component,
    /// A core WebAssembly module (needs to become a component first).
    CoreModule,
    /// WebAssembly text format.
    Text,
    /// Not WebAssembly at all.
    NotWasm,
}

/// Tells a component from a core module, text, or something else.
pub(crate) fn sniff_kind(bytes: &[u8]) -> WasmKind {
    match bytes {
        [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => WasmKind::CoreModule,
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => WasmKind::Component,
        _ if bytes.trim_ascii_start().starts_with(b"(") => WasmKind::Text,
        _ => WasmKind::NotWasm,
    }
}

/// A component ready to instantiate, with where it came from.
#[derive(Clone)]
pub struct Loaded {
    /// The compiled component.
    pub component: Component,
    /// sha256 of the component's bytes, hex.
    pub digest: String,
    /// Whether compiled code came from the cache.
    pub outcome: CacheOutcome,
    /// Size of the `.wasm` file in bytes.
    pub size: u64,
}

/// Why a file could not be loaded as a component.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read component {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not WebAssembly.
    #[error(
        "{path} is not a WebAssembly component (it does not start with the `\\0asm` header); \
         pass the `.wasm` file a component build produced, for example \
         `cargo build --target wasm32-wasip2`"
    )]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// The file is WebAssembly text.
    #[error(
        "{path} is WebAssembly text, not a binary component; \
         encode it first with `wasm-tools parse {path} -o out.wasm`"
    )]
    Text {
        /// The file.
        path: PathBuf,
    },
    /// The file is a core module, not a component.
    #[error(
        "{path} is a core WebAssembly module, not a component; make it a component with \
         `wasm-tools component new {path} -o component.wasm` (add \
         `--adapt wasi_snapshot_preview1.wasm` for a wasip1 module), or build it for \
         `--target wasm32-wasip2`"
    )]
    CoreModule {
        /// The file.
        path: PathBuf,
    },
    /// The component uses the async ABI and the engine was not asked for it.
    #[error(
        "{path} uses the component model's async ABI (`async func`, `stream`, `future`: \
         WASI 0.3), which is opt-in: run it with `--wasi 0.3`, or write `wasi = \"0.3\"` \
         under its [component.NAME] in the manifest"
    )]
    NeedsWasi3 {
        /// The file.
        path: PathBuf,
    },
    /// Wasmtime rejected the component.
    #[error("{path} is not a valid component")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Wasmtime's reason.
        #[source]
        source: anyhow::Error,
    },
}

/// Loads the component at `path`, through `cache` when there is one.
pub fn load_component(
    engine: &Engine,
    cache: Option<&CompileCache>,
    path: &Path,
) -> Result<Loaded, LoadError> {
    let loaded = load_uncached_or_cached(engine, cache, path)?;
    tracing::debug!(
        path = %path.display(),
        outcome = ?loaded.outcome,
        sha256 = %loaded.digest,
        "component loaded"
    );
    Ok(loaded)
}

fn load_uncached_or_cached(
    engine: &Engine,
    cache: Option<&CompileCache>,
    path: &Path,
) -> Result<Loaded, LoadError> {
    if let Some(cache) = cache
        && let Some(hit) = cache.lookup(engine, path)
    {
        return Ok(hit);
    }
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    let path_buf = || path.to_owned();
    match sniff_kind(&bytes) {
        WasmKind::Component => {}
        WasmKind::CoreModule => return Err(LoadError::CoreModule { path: path_buf() }),
        WasmKind::Text => return Err(LoadError::Text { path: path_buf() }),
        WasmKind::NotWasm => return Err(LoadError::NotWasm { path: path_buf() }),
    }
    let compile = |bytes: &[u8]| {
        Component::from_binary(engine, bytes).map_err(|e| {
            if format!("{e:#}").contains("component model async feature") {
                LoadError::NeedsWasi3 { path: path_buf() }
            } else {
                LoadError::Invalid {
                    path: path_buf(),
                    source: e.into(),
                }
            }
        })
    };
    match cache {
        Some(cache) => cache.compile_and_store(engine, path, &bytes, compile),
        None => Ok(Loaded {
            component: compile(&bytes)?,
            digest: crate::cache::sha256_hex(&bytes),
            outcome: CacheOutcome::Disabled,
            size: bytes.len() as u64,
        }),
    }
}
