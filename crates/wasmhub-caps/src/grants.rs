//! Turning [`Grants`] into a WASI context that allows exactly what they list.

use std::path::PathBuf;

use wasmhub_app::{DirMode, EnvGrant, Grants, Transport};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

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

/// Builds the WASI context `grants` allow: nothing that is not listed.
///
/// Stdio, clocks and random are not switched off here: a component denied them is
/// refused before it runs (see [`crate::audit`]), so it never holds those imports.
pub fn wasi_builder(grants: &Grants) -> Result<WasiCtxBuilder, GrantError> {
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
    let sockets = SocketPolicy::new(&grants.connect, &grants.bind);
    b.allow_tcp(sockets.uses(Transport::Tcp))
        .allow_udp(sockets.uses(Transport::Udp))
        .allow_ip_name_lookup(grants.needs_name_lookup())
        .socket_addr_check(move |addr, usage| sockets.check(addr, usage));
    Ok(b)
}
