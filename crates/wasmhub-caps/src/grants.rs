//! Turning [`Grants`] into a WASI context that allows exactly what they list.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use wasmhub_app::{DirMode, EnvGrant, Grants};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

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
    if grants.dirs.is_empty()
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
        b.preopened_dir(&dir.host, &dir.guest, perms)
            .map_err(|e| GrantError::MissingDir {
                host: dir.host.clone(),
                guest: dir.guest.clone(),
                source: e.into(),
            })?;
    }
    let sockets = SocketPolicy::new(&grants.connect, &grants.bind).reporting_to(denials);
    b.allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(grants.needs_name_lookup())
        .socket_addr_check(move |addr, usage| sockets.check(addr, usage));
    Ok(b)
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
