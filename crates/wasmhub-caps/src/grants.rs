//! Turning [`Grants`] into a WASI context that allows exactly what they list.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use wasmhub_app::{DirMode, EnvGrant, Grants};
use wasmtime_wasi::filesystem::WasiFilesystemCtx;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::denials::Denials;
use crate::sockets::SocketPolicy;

/// A grant that cannot be honoured on this host.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// A granted host directory is missing or unreadable.
    #[error(
        "granted directory {host} cannot be opened; create it or fix the path in the grant for {guest}"
    )]
    MissingDir {
        /// Host path.
        host: PathBuf,
        /// Guest path.
        guest: String,
        /// Why.
        #[source]
        source: anyhow::Error,
    },
}

/// Builds the WASI context `grants` allow: nothing that is not listed (denied socket uses
/// are reported to `denials`, the component's).
///
/// Sockets can be created whatever the grants, but every connect, send, bind and listen
/// is checked against the rules, and a denial is reported to the component's
/// [`Denials`]. Stdio, clocks and random are not switched off here: a component denied
/// them is refused before it runs (see [`crate::audit`]), so it never holds those imports.
pub fn wasi_builder(grants: &Grants, denials: Arc<Denials>) -> Result<WasiCtxBuilder, GrantError> {
    let mut b = wasi_builder_without_dirs(grants, denials);
    open_dirs(&mut b, grants)?;
    Ok(b)
}

/// The directories `grants` show a component, opened once and shared by every instance
/// made from [`wasi_builder_without_dirs`] (a served component's requests): no `open` per
/// request.
///
/// A directory is the one that was at its path when these were opened (at start or
/// reload), as a preopen at process start is.
#[derive(Clone)]
pub struct Preopens(WasiFilesystemCtx);

impl Preopens {
    /// Opens the directories `grants` list (or the no-files root when they list none; in a
    /// process that set [`open_directories_with`], only the listed ones, with its opener).
    pub fn open(grants: &Grants) -> Result<Self, GrantError> {
        let mut b = WasiCtxBuilder::new();
        open_dirs(&mut b, grants)?;
        Ok(Self(std::mem::take(b.build().filesystem())))
    }

    /// Gives `ctx` these directories (shared handles, no system call).
    pub fn install(&self, ctx: &mut WasiCtx) {
        *ctx.filesystem() = self.0.clone();
    }
}

/// [`wasi_builder`] without the directories: [`Preopens::install`] gives them to the
/// built context.
pub fn wasi_builder_without_dirs(grants: &Grants, denials: Arc<Denials>) -> WasiCtxBuilder {
    let mut b = WasiCtxBuilder::new();
    if grants.inherit_stdio {
        b.inherit_stdio();
    }
    b.args(&grants.args);
    for env in &grants.env {
        match &env.value {
            EnvGrant::Value { name, value } => {
                b.env(name, value);
            }
            EnvGrant::Inherit { name } => {
                if let Ok(value) = std::env::var(name) {
                    b.env(name, value);
                }
            }
        }
    }
    let sockets = SocketPolicy::new(&grants.connect, &grants.bind).reporting_to(denials);
    b.allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(grants.needs_name_lookup())
        .socket_addr_check(move |addr, usage| sockets.check(addr, usage));
    b
}

/// Opens one granted directory: the host path and its mode.
type Opener = dyn Fn(&Path, DirMode) -> std::io::Result<OwnedFd> + Send + Sync;

/// Set in a sandboxed worker (see [`open_directories_with`]).
static OPENER: OnceLock<Box<Opener>> = OnceLock::new();

/// From now on this process opens granted directories with `opener` and gives a component
/// granted none no directory at all, not even the no-files root: a sandboxed worker's,
/// which opens its tenant's directories its own way (idmapped to the tenant's uid) before
/// it locks down, and whose empty root and seccomp filter leave nothing else to open.
/// The first opener set stays.
pub fn open_directories_with(
    opener: impl Fn(&Path, DirMode) -> std::io::Result<OwnedFd> + Send + Sync + 'static,
) {
    let _ = OPENER.set(Box::new(opener));
}

/// Preopens the directories `grants` list, or the no-files root when they list none.
fn open_dirs(b: &mut WasiCtxBuilder, grants: &Grants) -> Result<(), GrantError> {
    let opener = OPENER.get();
    if opener.is_none()
        && grants.dirs.is_empty()
        && let Some(root) = no_files_root()
    {
        // Paths then reach the host, which denies each one by name (wasmhub-host's files).
        b.preopened_dir(root, "/", FsPerms::ReadOnly)
            .map_err(|e| GrantError::MissingDir {
                host: root.to_owned(),
                guest: "/".into(),
                source: e.into(),
            })?;
    }
    for dir in &grants.dirs {
        let dir = &dir.value;
        let perms = match dir.mode {
            DirMode::ReadOnly => FsPerms::ReadOnly,
            DirMode::ReadWrite => FsPerms::ReadWrite,
        };
        let missing = |source: anyhow::Error| GrantError::MissingDir {
            host: dir.host.clone(),
            guest: dir.guest.clone(),
            source,
        };
        match opener {
            Some(open) => {
                let fd = open(&dir.host, dir.mode).map_err(|e| missing(e.into()))?;
                // wasmtime-wasi opens a preopen by path: this descriptor's, which reopens
                // the same directory on the same mount; ours is closed below.
                let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
                b.preopened_dir(&path, &dir.guest, perms)
                    .map_err(|e| missing(e.into()))?;
            }
            None => {
                b.preopened_dir(&dir.host, &dir.guest, perms)
                    .map_err(|e| missing(e.into()))?;
            }
        }
    }
    Ok(())
}

/// An empty directory no one can write, shown at `/` to components granted no files, or
/// `None` when one cannot be made safely (they then see no directory at all).
///
/// It lives at `$TMPDIR/wasmhub-no-files-UID`, mode 0555 and owned by this user; one that
/// is not (someone else's, writable, or not empty) is not used.
fn no_files_root() -> Option<&'static Path> {
    static ROOT: OnceLock<Option<PathBuf>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let uid = own_uid();
        let path = std::env::temp_dir().join(format!("wasmhub-no-files-{uid}"));
        let made = std::fs::DirBuilder::new().mode(0o555).create(&path);
        if let Err(e) = made
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            tracing::debug!("cannot make {}: {e}", path.display());
            return None;
        }
        let meta = std::fs::symlink_metadata(&path).ok()?;
        let empty = std::fs::read_dir(&path).ok()?.next().is_none();
        let safe = meta.is_dir() && meta.uid() == uid && meta.mode() & 0o222 == 0 && empty;
        if !safe {
            tracing::warn!(
                "{} is not an empty read-only directory of this user: components granted no \
                 files see no directory, and their file access is denied without a report",
                path.display()
            );
        }
        safe.then_some(path)
    })
    .as_deref()
}

/// This process's user id, read from `/proc/self` (whose owner it is).
fn own_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

#[cfg(test)]
mod tests {
    use wasmhub_app::{DirGrant, GrantSite, Granted, Origin};
    use wasmtime::component::ResourceTable;
    use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
    use wasmtime_wasi::p2::bindings::filesystem::preopens::Host;

    use super::*;

    fn grants_of(host: &Path) -> Grants {
        let mut grants = Grants::none(GrantSite::Flags);
        grants.dirs.push(Granted::new(
            DirGrant {
                host: host.to_owned(),
                guest: "/data".into(),
                mode: DirMode::ReadOnly,
            },
            Origin::Flag("--dir".into()),
        ));
        grants
    }

    fn guest_dirs(preopens: &Preopens) -> Vec<String> {
        let none = Grants::none(GrantSite::Flags);
        let mut ctx = wasi_builder_without_dirs(&none, Denials::of(&GrantSite::Flags)).build();
        preopens.install(&mut ctx);
        let mut table = ResourceTable::new();
        let mut view = WasiFilesystemCtxView {
            ctx: ctx.filesystem(),
            table: &mut table,
        };
        let dirs = view.get_directories().unwrap();
        dirs.into_iter().map(|(_, name)| name).collect()
    }

    #[test]
    fn granted_directories_are_opened_once_and_shared() {
        let base = std::env::temp_dir().join(format!("wasmhub-preopens-{}", std::process::id()));
        let host = base.join("data");
        std::fs::create_dir_all(&host).unwrap();
        let preopens = Preopens::open(&grants_of(&host)).unwrap();
        // Every instance gets the directory opened then, even after its path moved away.
        std::fs::rename(&host, base.join("moved")).unwrap();
        assert_eq!(guest_dirs(&preopens), ["/data"]);
        assert_eq!(guest_dirs(&preopens), ["/data"]);
        // Opening again names the path that is gone, and the fix.
        let Err(e) = Preopens::open(&grants_of(&host)) else {
            panic!("a missing granted directory was opened");
        };
        assert!(e.to_string().contains(&host.display().to_string()), "{e}");
        assert!(e.to_string().contains("create it or fix the path"), "{e}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
