//! Which backend holds each app's stores in this process: chosen once (`--kv`,
//! `--data-dir`), opened on first use, shared by every component of the app.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::{EmbeddedBackend, KvBackend, MemoryBackend};

/// Where this process keeps key-value data.
#[derive(Debug, Clone)]
pub enum BackendChoice {
    /// The durable embedded store, one file per app under this directory (`None`: the
    /// default data directory).
    Embedded(Option<PathBuf>),
    /// In memory, lost at exit (`--kv memory`).
    Memory,
    /// A backend this crate does not know, opened by the binary's opener (`--kv nats`:
    /// the cluster crate's, which depends on this one and not the other way round).
    External(Arc<dyn BackendOpener>),
}

/// Opens a backend defined outside this crate, for one app at a time.
pub trait BackendOpener: Send + Sync + std::fmt::Debug {
    /// Where it keeps data, for messages: e.g. `NATS server nats://127.0.0.1:4222`.
    fn describe(&self) -> String;
    /// The backend holding `app`'s stores (called once per app per process).
    fn open(
        &self,
        app: &str,
    ) -> Result<Arc<dyn KvBackend>, Box<dyn std::error::Error + Send + Sync>>;
}

/// Why a component's state could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The app's store could not be opened.
    #[error(transparent)]
    Open(#[from] crate::OpenError),
    /// A backend from outside this crate (`--kv nats`) could not be opened.
    #[error("cannot open the key-value stores of app {app:?} on {backend}")]
    External {
        /// The app.
        app: String,
        /// Where its stores are (the opener's description).
        backend: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
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
    let backend = open(&chosen(), app)?;
    all.insert(app.to_owned(), backend.clone());
    Ok(backend)
}

/// Opens `app`'s backend as `choice` says.
fn open(choice: &BackendChoice, app: &str) -> Result<Arc<dyn KvBackend>, StateError> {
    let backend: Arc<dyn KvBackend> = match choice {
        BackendChoice::Memory => Arc::new(MemoryBackend::new()),
        BackendChoice::External(opener) => {
            opener.open(app).map_err(|source| StateError::External {
                app: app.to_owned(),
                backend: opener.describe(),
                source,
            })?
        }
        BackendChoice::Embedded(dir) => {
            let dir = match dir {
                Some(d) => d.clone(),
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
    Ok(backend)
}

/// The backends opened so far, by app.
pub fn opened_backends() -> Vec<(String, Arc<dyn KvBackend>)> {
    let all = opened().lock().unwrap_or_else(|e| e.into_inner());
    all.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Refusing;

    impl BackendOpener for Refusing {
        fn describe(&self) -> String {
            "NATS server nats://127.0.0.1:1".into()
        }
        fn open(
            &self,
            _app: &str,
        ) -> Result<Arc<dyn KvBackend>, Box<dyn std::error::Error + Send + Sync>> {
            Err("the server is unreachable".into())
        }
    }

    #[derive(Debug)]
    struct InMemory;

    impl BackendOpener for InMemory {
        fn describe(&self) -> String {
            "memory".into()
        }
        fn open(
            &self,
            _app: &str,
        ) -> Result<Arc<dyn KvBackend>, Box<dyn std::error::Error + Send + Sync>> {
            Ok(Arc::new(MemoryBackend::new()))
        }
    }

    #[test]
    fn an_external_opener_is_used_and_its_failure_names_app_and_backend() {
        let ok = open(&BackendChoice::External(Arc::new(InMemory)), "shop").unwrap();
        assert_eq!(ok.info().kind, "memory");
        let Err(e) = open(&BackendChoice::External(Arc::new(Refusing)), "shop") else {
            panic!("a refusing opener must fail");
        };
        assert_eq!(
            e.to_string(),
            "cannot open the key-value stores of app \"shop\" on NATS server nats://127.0.0.1:1"
        );
        let cause = std::error::Error::source(&e).unwrap().to_string();
        assert_eq!(cause, "the server is unreachable");
    }
}
