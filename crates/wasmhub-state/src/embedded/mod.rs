//! The durable embedded store: one redb file per app, written by one group-commit thread,
//! read directly by callers.

mod paths;
mod reads;
mod tables;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use redb::{Database, ReadableTable};
use tokio::sync::oneshot;

pub use paths::{data_dir, state_file};

use crate::backend::{
    BackendError, BackendInfo, BatchOp, Condition, Entry, KvBackend, Page, StoreId, StoreQuota,
    Usage, Written,
};
use reads::{Reads, Snapshot};
use writer::{Counters, Op, Request};

/// Why the embedded store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// No variable says where data lives.
    #[error("no data directory: set WASMHUB_DATA_DIR, XDG_DATA_HOME or HOME, or pass --data-dir")]
    NoDataDir,
    /// The app's name is too long to become a file name.
    #[error(
        "app name {app:?} is too long for a state file ({max} bytes once encoded); use a shorter [app] name"
    )]
    NameTooLong {
        /// The app.
        app: String,
        /// The longest encoded name.
        max: usize,
    },
    /// A folder or file could not be created or read.
    #[error("cannot create or open {}", path.display())]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A folder or file that group or others may use.
    #[error(
        "{} is open to group or others (mode {mode:o}); fix it with `chmod {wanted:o} {}`",
        path.display(),
        path.display()
    )]
    Exposed {
        /// The folder or file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
        /// The mode it should have.
        wanted: u32,
    },
    /// Another process (or another open in this one) holds the file.
    #[error(
        "the state of app {app:?} ({}) is in use by another wasmhub process; stop it or use another --data-dir",
        path.display()
    )]
    InUse {
        /// The app.
        app: String,
        /// The file.
        path: PathBuf,
    },
    /// The file is not a state file, or is damaged.
    #[error("cannot open the state of app {app:?} ({})", path.display())]
    Database {
        /// The app.
        app: String,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: redb::Error,
    },
}

/// One app's durable state: a redb file under the data directory.
pub struct EmbeddedBackend {
    app: String,
    path: PathBuf,
    db: Arc<Database>,
    writes: Option<Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    reads: Arc<Reads>,
}

impl EmbeddedBackend {
    /// Opens (creating if needed) the state file of `app` under `data_dir`.
    pub fn open(data_dir: &Path, app: &str) -> Result<Self, OpenError> {
        let path = state_file(data_dir, app)?;
        paths::prepare(&path)?;
        let database = |source: redb::Error| OpenError::Database {
            app: app.to_owned(),
            path: path.clone(),
            source,
        };
        let db = match Database::create(&path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(OpenError::InUse {
                    app: app.to_owned(),
                    path,
                });
            }
            Err(e) => return Err(database(e.into())),
        };
        create_tables(&db).map_err(database)?;
        let db = Arc::new(db);
        let counters = Arc::new(Counters::default());
        let reads = Arc::new(Reads::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = {
            let (db, counters, reads) = (db.clone(), counters.clone(), reads.clone());
            let file = path.display().to_string();
            std::thread::Builder::new()
                .name("wasmhub-kv-writer".into())
                .spawn(move || writer::run(db, file, rx, counters, reads))
                .map_err(|source| OpenError::Io {
                    path: path.clone(),
                    source,
                })?
        };
        Ok(Self {
            app: app.to_owned(),
            path,
            db,
            writes: Some(tx),
            writer: Some(writer),
            counters,
            reads,
        })
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Durable transactions committed since open (each one fsync of the file).
    pub fn commits(&self) -> u64 {
        self.counters.commits.load(Ordering::Relaxed)
    }

    /// Writes acknowledged since open.
    pub fn acknowledged_writes(&self) -> u64 {
        self.counters.writes.load(Ordering::Relaxed)
    }

    /// The usage of `store` counted from its entries, to compare with the recorded
    /// [`KvBackend::usage`].
    pub fn recount(&self, store: &StoreId) -> Result<Usage, BackendError> {
        self.check_app(store)?;
        self.read(store, |snap| {
            Ok(tables::recount(&snap.entries, &store.label)?)
        })
    }

    fn check_app(&self, store: &StoreId) -> Result<(), BackendError> {
        if store.app == self.app {
            return Ok(());
        }
        Err(BackendError::Failed {
            store: store.clone(),
            message: format!(
                "this state file ({}) holds app {:?}, not {:?}",
                self.path.display(),
                self.app,
                store.app
            ),
            source: None,
        })
    }

    /// Runs `f` on a snapshot that holds every acknowledged write, naming the file in any
    /// error.
    fn read<T>(
        &self,
        store: &StoreId,
        f: impl FnOnce(&Snapshot) -> Result<T, redb::Error>,
    ) -> Result<T, BackendError> {
        let run = || f(&*self.reads.snapshot(&self.db)?);
        run().map_err(|e| self.failed(store, e))
    }

    fn failed(&self, store: &StoreId, e: redb::Error) -> BackendError {
        BackendError::Failed {
            store: store.clone(),
            message: format!("cannot read the state file {}", self.path.display()),
            source: Some(Box::new(e)),
        }
    }

    /// Hands `op` to the writer thread and waits until it is durable.
    async fn write(&self, store: &StoreId, op: Op) -> Result<Written, BackendError> {
        self.check_app(store)?;
        let gone = || BackendError::Failed {
            store: store.clone(),
            message: format!("the writer of {} has stopped", self.path.display()),
            source: None,
        };
        let (reply, done) = oneshot::channel();
        let request = Request {
            store: store.clone(),
            op,
            reply,
        };
        self.writes
            .as_ref()
            .ok_or_else(gone)?
            .send(request)
            .map_err(|_| gone())?;
        done.await.map_err(|_| gone())?
    }
}

impl Drop for EmbeddedBackend {
    fn drop(&mut self) {
        // Closing the queue ends the writer after its last group; the file closes (and
        // its lock is released) once the thread has let go of it.
        self.writes.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        // No read transaction outlives the database, so closing it is not deferred.
        self.reads.release();
    }
}

fn create_tables(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    txn.open_table(tables::ENTRIES)?;
    txn.open_table(tables::USAGE)?;
    txn.open_table(tables::META)?;
    txn.commit()?;
    Ok(())
}

#[async_trait::async_trait]
impl KvBackend for EmbeddedBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "embedded",
            location: self.path.display().to_string(),
            durable: true,
        }
    }

    async fn get(&self, store: &StoreId, key: &str) -> Result<Option<Entry>, BackendError> {
        self.check_app(store)?;
        self.read(store, |snap| {
            Ok(tables::get(&snap.entries, &store.label, key)?)
        })
    }

    async fn put(
        &self,
        store: &StoreId,
        key: &str,
        value: Vec<u8>,
        condition: Condition,
        quota: StoreQuota,
    ) -> Result<Written, BackendError> {
        let op = Op::Put {
            key: key.to_owned(),
            value,
            condition,
            quota,
        };
        self.write(store, op).await
    }

    async fn delete(
        &self,
        store: &StoreId,
        key: &str,
        condition: Condition,
    ) -> Result<Written, BackendError> {
        let op = Op::Delete {
            key: key.to_owned(),
            condition,
        };
        self.write(store, op).await
    }

    async fn batch(
        &self,
        store: &StoreId,
        ops: Vec<BatchOp>,
        quota: StoreQuota,
    ) -> Result<(), BackendError> {
        self.write(store, Op::Batch { ops, quota })
            .await
            .map(|_| ())
    }

    fn atomic_batches(&self) -> bool {
        true
    }

    async fn list(
        &self,
        store: &StoreId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, BackendError> {
        self.check_app(store)?;
        self.read(store, |snap| {
            Ok(tables::list(&snap.entries, &store.label, after, limit)?)
        })
    }

    async fn usage(&self, store: &StoreId) -> Result<Usage, BackendError> {
        self.check_app(store)?;
        self.read(store, |snap| Ok(tables::usage(&snap.usage, &store.label)?))
    }

    async fn stores(&self, app: &str) -> Result<Vec<String>, BackendError> {
        if app != self.app {
            return Ok(Vec::new());
        }
        let store = StoreId::new(app, "");
        self.read(&store, |snap| {
            let mut labels = Vec::new();
            for item in snap.usage.iter()? {
                let (label, u) = item?;
                if u.value().0 > 0 {
                    labels.push(label.value().to_owned());
                }
            }
            Ok(labels)
        })
    }
}

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod tests;
