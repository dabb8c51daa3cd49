//! The one Store-data struct of a plugin instance: WASI context, resource
//! table, each capability's state, resource limits and call accounting.

use crate::capabilities::{config::ConfigState, log::LogState, socket::SocketState};
use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct PluginState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub log: LogState,
    pub config: ConfigState,
    pub socket: SocketState,
    pub limits: StoreLimits,
    /// Epoch ticks the current call has used; reset before every call so
    /// the CPU budget is per call, not per instance lifetime.
    pub ticks_used: u64,
    /// CPU budget of one call, in epoch ticks.
    pub tick_budget: u64,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
