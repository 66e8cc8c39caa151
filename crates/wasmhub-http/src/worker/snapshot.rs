//! What a tenant's worker serves: its generation's app exactly as the server prepared it,
//! never what the disk holds when the worker starts (a manifest or a component rewritten
//! since, broken or not yet reloaded).
//!
//! The server writes, per generation and tenant, a snapshot into a directory of its own
//! (the server's user's, mode 0700, locked while it runs; removed with the last
//! [`Launcher`](super::Launcher), or by the next server if it was killed):
//! the manifest texts it parsed and, for each of the tenant's components, the code it
//! compiled (`code/<engine>-<sha256>.cwasm`: `Component::serialize`, written once per
//! server). The worker is given the snapshot's path in [`WORKER_SNAPSHOT_ENV`], reads the
//! app from those texts and maps its code from those files before it locks down; it
//! reads no other file of the app (its granted directories aside).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use wasmhub_app::{App, AppComponent, Texts};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The variable a worker finds its snapshot's path in.
pub const WORKER_SNAPSHOT_ENV: &str = "WASMHUB_WORKER_SNAPSHOT";

/// One component's code as the server loaded it for a generation.
#[derive(Clone)]
pub(crate) struct Code {
    /// Loaded on the WASI 0.3 engine.
    pub(crate) wasi3: bool,
    /// The sha256 of its bytes.
    pub(crate) digest: String,
    /// The compiled code.
    pub(crate) component: Component,
}

/// The file a snapshot is written as.
#[derive(Serialize, Deserialize)]
struct Doc {
    /// The manifest texts, by path.
    texts: BTreeMap<PathBuf, String>,
    /// Each of the tenant's loaded components, by name.
    code: BTreeMap<String, Entry>,
}

/// Where one component's code is.
#[derive(Serialize, Deserialize)]
struct Entry {
    wasi3: bool,
    digest: String,
    file: PathBuf,
}

/// The server's directory of snapshots; created on first use, removed when dropped.
#[derive(Default)]
pub(crate) struct Store {
    root: OnceLock<(PathBuf, std::fs::File)>,
    next: AtomicU64,
}

/// The name of a server's snapshot directory in the temporary directory: `wasmhub-PID-workers`.
fn is_store_name(name: &str) -> bool {
    name.strip_prefix("wasmhub-")
        .and_then(|n| n.strip_suffix("-workers"))
        .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Takes the lock on `root`'s `lock` file without waiting: held by its server while it
/// runs, free once it is gone (killed, whatever PID namespace it ran in).
fn lock(root: &Path) -> Option<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(root.join("lock"))
        .ok()?;
    // SAFETY: plain syscall on a descriptor this function owns.
    let locked = unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    } == 0;
    locked.then_some(file)
}

/// Removes the snapshot directories of servers that are gone (this user's only).
fn remove_dead_stores(tmp: &Path) {
    for entry in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        let dir = entry.path();
        let named = entry.file_name().to_str().is_some_and(is_store_name);
        if named && trusted(&dir).is_ok() && lock(&dir).is_some() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

impl Store {
    /// The directory, made private (the server's user only) on first use.
    fn root(&self) -> Result<&Path> {
        if let Some((root, _)) = self.root.get() {
            return Ok(root);
        }
        let tmp = std::env::temp_dir();
        remove_dead_stores(&tmp);
        let root = tmp.join(format!("wasmhub-{}-workers", std::process::id()));
        private_dir(&root)?;
        let held = lock(&root)
            .with_context(|| format!("cannot lock {}: in use by another server", root.display()))?;
        private_dir(&root.join("code"))?;
        Ok(&self.root.get_or_init(|| (root, held)).0)
    }

    /// Writes `tenant`'s snapshot of `app`, with the code of each of its components in
    /// `code` (by name).
    pub(crate) fn write(
        &self,
        app: &App,
        tenant: &str,
        code: &HashMap<String, Code>,
    ) -> Result<Snapshot> {
        let root = self.root()?;
        let mut doc = Doc {
            texts: app.texts.clone(),
            code: BTreeMap::new(),
        };
        for i in app.tenant_members(tenant) {
            let name = &app.components[i].name;
            let Some(c) = code.get(name) else { continue };
            let kind = if c.wasi3 { "p3" } else { "p2" };
            let file = root.join("code").join(format!("{kind}-{}.cwasm", c.digest));
            if !file.is_file() {
                let bytes = c
                    .component
                    .serialize()
                    .map_err(anyhow::Error::from)
                    .with_context(|| {
                        format!("cannot serialize the code of component \"{name}\" for its worker")
                    })?;
                write_new(&file, &bytes)?;
            }
            let entry = Entry {
                wasi3: c.wasi3,
                digest: c.digest.clone(),
                file,
            };
            doc.code.insert(name.clone(), entry);
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = root.join(format!("{n}-{tenant}.json"));
        write_new(&path, &serde_json::to_vec(&doc)?)?;
        Ok(Snapshot { path })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some((root, _)) = self.root.get() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// One tenant's snapshot of one generation: the file its workers are given, removed when
/// the generation's pool is dropped (no worker of it starts after that).
pub(crate) struct Snapshot {
    path: PathBuf,
}

impl Snapshot {
    /// Its file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A worker's snapshot, read from the file its server named: what it serves.
pub struct WorkerSnapshot {
    doc: Doc,
}

impl WorkerSnapshot {
    /// Reads the snapshot named by [`WORKER_SNAPSHOT_ENV`].
    pub fn from_env() -> Result<Self> {
        let path = std::env::var_os(WORKER_SNAPSHOT_ENV).with_context(|| {
            format!("{WORKER_SNAPSHOT_ENV} is not set: workers are started by serve")
        })?;
        let path = PathBuf::from(path);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read the worker's snapshot {}", path.display()))?;
        let doc = serde_json::from_slice(&bytes)
            .with_context(|| format!("the worker's snapshot {} is not one", path.display()))?;
        Ok(Self { doc })
    }

    /// The manifest texts the server parsed.
    pub fn texts(&self) -> Texts {
        Texts::given(self.doc.texts.clone())
    }

    /// `c`'s code on `engine` (`wasi3`: the WASI 0.3 one), mapped from the server's file.
    pub(crate) fn load(&self, engine: &Engine, wasi3: bool, c: &AppComponent) -> Result<Code> {
        let Some(entry) = self.doc.code.get(&c.name) else {
            bail!(
                "component \"{}\" has no code in the worker's snapshot",
                c.name
            );
        };
        if entry.wasi3 != wasi3 {
            bail!(
                "component \"{}\" was compiled for another engine than its worker's",
                c.name
            );
        }
        trusted(&entry.file)?;
        // SAFETY: the server wrote this file with `Component::serialize` on an engine set
        // up as this one (same flags and app), into its private directory (checked above:
        // owned by this user, writable by no one else); Wasmtime checks the header,
        // version and configuration and refuses anything else.
        let component = unsafe { Component::deserialize_file(engine, &entry.file) }
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot map the code of component \"{}\"", c.name))?;
        tracing::debug!(component = %c.name, sha256 = %entry.digest, "code mapped from the worker's snapshot");
        Ok(Code {
            wasi3,
            digest: entry.digest.clone(),
            component,
        })
    }
}

/// Creates `dir` with mode 0700, or checks an existing one is this user's and private.
fn private_dir(dir: &Path) -> Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => trusted(dir),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
}

/// Fails unless `path` (not a link) is this user's and no one else may write it (a
/// directory: nor read it).
fn trusted(path: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let others = if meta.is_dir() { 0o077 } else { 0o022 };
    if meta.uid() != me || meta.mode() & others != 0 || meta.file_type().is_symlink() {
        bail!(
            "{} is not private to this user (uid {me}); remove it and start again",
            path.display()
        );
    }
    Ok(())
}

/// Writes `bytes` to `dest` (mode 0600) through a new temporary file renamed into place.
fn write_new(dest: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = dest.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dest)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::Error::from(e).context(format!("cannot write {}", dest.display()))
    })
}

/// Prepares a worker's `app` (read from `snapshot`'s texts) on `engines`, each
/// component's code mapped from the snapshot: nothing is compiled, no component file read.
pub fn prepare_from_snapshot(
    engines: &wasmhub_core::Engines,
    snapshot: &WorkerSnapshot,
    app: App,
    options: &crate::ServeOptions,
) -> Result<crate::PreparedApp> {
    let mut load = |engine: &Engine, c: &AppComponent| {
        let code = snapshot.load(engine, engines.is_wasi3(engine), c)?;
        Ok((code.component, code.digest))
    };
    crate::prepared::prepare_with(engines, app, options, &mut load, Default::default())
}
