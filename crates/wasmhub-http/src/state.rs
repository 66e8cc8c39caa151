//! Per-request store state: WASI, WASI HTTP, and the outbound allow-list.

use wasmhub_host::{LinkCtx, Outbound};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// What each request's `Store` carries.
pub struct ServeState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub hooks: Outbound,
    pub memory: wasmhub_core::MemoryMeter,
    /// Where its denied file opens and name lookups are reported.
    pub ungranted: wasmhub_host::Ungranted,
    /// Its key-value stores and configuration, and the operations it made.
    pub state: wasmhub_state::StateCtx,
    pub links: LinkCtx,
    /// A WASI 0.3 instance's request: its slots and where it reports how it ended.
    pub request: Option<crate::ticket::Ticket>,
}

impl wasmhub_host::MeteredState for ServeState {
    fn memory(&mut self) -> &mut wasmhub_core::MemoryMeter {
        &mut self.memory
    }
}

impl AsMut<LinkCtx> for ServeState {
    fn as_mut(&mut self) -> &mut LinkCtx {
        &mut self.links
    }
}

impl WasiView for ServeState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ServeState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl wasmhub_host::HasUngranted for ServeState {
    fn ungranted(&self) -> &wasmhub_host::Ungranted {
        &self.ungranted
    }
}

impl wasmhub_state::HasState for ServeState {
    fn state(&mut self) -> wasmhub_state::StateView<'_> {
        wasmhub_state::StateView {
            ctx: &mut self.state,
            table: &mut self.table,
        }
    }
}
