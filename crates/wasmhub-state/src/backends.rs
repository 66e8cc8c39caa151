//! Which backend holds each app's stores in this process: chosen once (`--kv`,
//! `--data-dir`), opened on first use, shared by every component of the app.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::{EmbeddedBackend, KvBackend, MemoryBackend};

/// Where this process keeps key-value data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendChoice {
    /// The durable embedded store, one file per app under this directory (`None`: the
    /// default data directory).
    Embedded(Option<PathBuf>),
    /// In memory, lost at exit (`--kv memory`).
    Memory,
}

/// Why a component's state could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The app's store could not be opened.
    #[error(transparent)]
    Open(#[from] crate::OpenError),
    /// A configuration value could not be read.
    #[error("{message}")]
    Config {
        /// What failed and the fix.
        message: String,
    },
}

static CHOICE: OnceLock<BackendChoice> = OnceLock::new();

/// Set by `check`: an app whose state another process holds is looked at, not used.
static LOOK_ONLY: AtomicBool = AtomicBool::new(false);

fn busy() -> &'static Mutex<BTreeMap<String, PathBuf>> {
    static BUSY: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    BUSY.get_or_init(Mutex::default)
}

/// For verbs that only look (`check`): when another process holds an app's state, its
/// components get an empty in-memory store instead of an error, and [`in_use_elsewhere`]
/// names the file.
pub fn look_only() {
    LOOK_ONLY.store(true, Ordering::Relaxed);
}

/// The state file of `app`, if another process held it when this one looked.
pub fn in_use_elsewhere(app: &str) -> Option<PathBuf> {
    busy()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(app)
        .cloned()
}

type Opened = Mutex<BTreeMap<String, Arc<dyn KvBackend>>>;

fn opened() -> &'static Opened {
    static OPENED: OnceLock<Opened> = OnceLock::new();
    OPENED.get_or_init(Opened::default)
}

/// Keeps key-value data in `choice` for the rest of the process (the first call wins;
/// without one, the embedded store in the default data directory).
pub fn choose_backend(choice: BackendChoice) {
    let _ = CHOICE.set(choice);
}

/// The chosen backend kind.
pub fn chosen() -> BackendChoice {
    CHOICE
        .get()
        .cloned()
        .unwrap_or(BackendChoice::Embedded(None))
}

/// The backend holding `app`'s stores, opened on first use.
pub fn backend_for(app: &str) -> Result<Arc<dyn KvBackend>, StateError> {
    let mut all = opened().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = all.get(app) {
        return Ok(b.clone());
    }
    let backend: Arc<dyn KvBackend> = match chosen() {
        BackendChoice::Memory => Arc::new(MemoryBackend::new()),
        BackendChoice::Embedded(dir) => {
            let dir = match dir {
                Some(d) => d,
                None => crate::data_dir()?,
            };
            match EmbeddedBackend::open(&dir, app) {
                Ok(b) => Arc::new(b),
                Err(crate::OpenError::InUse { path, .. }) if LOOK_ONLY.load(Ordering::Relaxed) => {
                    let mut busy = busy().lock().unwrap_or_else(|e| e.into_inner());
                    busy.insert(app.to_owned(), path);
                    Arc::new(MemoryBackend::new())
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    all.insert(app.to_owned(), backend.clone());
    Ok(backend)
}

/// The backends opened so far, by app.
pub fn opened_backends() -> Vec<(String, Arc<dyn KvBackend>)> {
    let all = opened().lock().unwrap_or_else(|e| e.into_inner());
    all.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
