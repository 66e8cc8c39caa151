//! Calls to what a component is not granted: denied at the call, with what it tried.
//!
//! Sockets and outbound HTTP are checked by WASI's own hooks (`wasmhub_caps` and
//! [`crate::Outbound`]); this module covers what those hooks cannot see: opening files
//! and looking up names.
//!
//! A component granted no directories sees one empty, read-only directory at `/` (see
//! [`wasmhub_caps::wasi_builder`]), so the paths it opens reach the host instead of failing
//! inside its libc where the host cannot see them. Opening or stat-ing any path there
//! answers `no-entry`, exactly what a guest with no preopened directory gets, and the
//! first such call is reported to the component's [`Denials`] with the path and the grant
//! to add. A component granted directories gets WASI's own calls, untouched.

use std::sync::Arc;

use anyhow::Result;
use wasmhub_app::Grants;
use wasmhub_caps::{Denials, Denied};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemView};
use wasmtime_wasi::p2::Network;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, DescriptorStat, ErrorCode, Host, HostDescriptor, OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    Host as LookupHost, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{
    ErrorCode as NetErrorCode, Host as NetworkHost,
};
use wasmtime_wasi::sockets::WasiSocketsView;

/// The WASI 0.2 filesystem interface as `wasmtime-wasi` links it.
const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// The WASI 0.2 name lookup interface as `wasmtime-wasi` links it.
const LOOKUP: &str = "wasi:sockets/ip-name-lookup@0.2.12";

/// What a component is not granted, and where its denied calls are reported; made once
/// per component and shared by its instances.
#[derive(Debug, Clone)]
pub struct Ungranted {
    denials: Arc<Denials>,
    /// It is granted no files.
    no_files: bool,
    /// No socket grant names a host.
    no_lookup: bool,
}

impl Ungranted {
    /// For a component with `grants`.
    pub fn of(grants: &Grants) -> Self {
        Self {
            denials: Denials::of(&grants.site),
            no_files: grants.dirs.is_empty(),
            no_lookup: !grants.needs_name_lookup(),
        }
    }

    /// Where the component's denied calls are reported.
    pub fn denials(&self) -> &Arc<Denials> {
        &self.denials
    }
}

/// A store state that knows what its component is not granted.
pub trait HasUngranted {
    /// Its component's [`Ungranted`].
    fn ungranted(&self) -> &Ungranted;
}

/// Reports `path` (relative to the empty root) as denied, when the component has no files.
fn denied<T: HasUngranted>(state: &T, path: &str) -> bool {
    let ungranted = state.ungranted();
    if !ungranted.no_files {
        return false;
    }
    let path = match path.trim_start_matches('/') {
        "" | "." => "/".to_owned(),
        p => format!("/{p}"),
    };
    ungranted.denials.deny(&Denied::file(&path));
    true
}

/// Re-links `open-at` and `stat-at` of `wasi:filesystem/types@0.2` and
/// `resolve-addresses` of `wasi:sockets/ip-name-lookup@0.2` over WASI's own, so a component
/// granted no files is denied each path, one whose grants name no host each lookup, and the
/// first of each is reported.
pub fn link_ungranted<T>(linker: &mut Linker<T>) -> Result<()>
where
    T: WasiFilesystemView + WasiSocketsView + HasUngranted + 'static,
{
    linker.allow_shadowing(true);
    let mut types = linker.instance(TYPES)?;
    types.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, T>,
         (fd, at, path, open, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            Box::new(async move {
                if denied(store.data(), &path) {
                    return Ok((Err(ErrorCode::NoEntry),));
                }
                let mut view = store.data_mut().filesystem();
                let opened: Result<Resource<Descriptor>, ErrorCode> =
                    match view.open_at(fd, at, path, open, flags).await {
                        Ok(fd) => Ok(fd),
                        Err(e) => Err(view.convert_error_code(e)?),
                    };
                Ok((opened,))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.stat-at",
        |mut store: StoreContextMut<'_, T>,
         (fd, at, path): (Resource<Descriptor>, PathFlags, String)| {
            Box::new(async move {
                if denied(store.data(), &path) {
                    return Ok((Err(ErrorCode::NoEntry),));
                }
                let mut view = store.data_mut().filesystem();
                let stat: Result<DescriptorStat, ErrorCode> = match view.stat_at(fd, at, path).await
                {
                    Ok(stat) => Ok(stat),
                    Err(e) => Err(view.convert_error_code(e)?),
                };
                Ok((stat,))
            })
        },
    )?;
    linker.instance(LOOKUP)?.func_wrap(
        "resolve-addresses",
        |mut store: StoreContextMut<'_, T>, (network, name): (Resource<Network>, String)| {
            let ungranted = store.data().ungranted();
            if ungranted.no_lookup {
                ungranted.denials.deny(&Denied::lookup(&name));
                return Ok((Err(NetErrorCode::PermanentResolverFailure),));
            }
            let mut view = store.data_mut().sockets();
            let found: Result<Resource<ResolveAddressStream>, NetErrorCode> =
                match LookupHost::resolve_addresses(&mut view, network, name) {
                    Ok(stream) => Ok(stream),
                    Err(e) => Err(NetworkHost::convert_error_code(&mut view, e)?),
                };
            Ok((found,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
