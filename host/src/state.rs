//! The one Store-data struct of a plugin instance: WASI context, resource
//! table, each capability's state, resource limits and call accounting.

use crate::capabilities::{config::ConfigState, log::LogState, socket::SocketState};
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct PluginState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub log: LogState,
    pub config: ConfigState,
    pub socket: SocketState,
    pub limits: InstanceLimits,
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

/// Resource limits of one instance. wasmtime's `StoreLimits` caps each
/// linear memory on its own; a component has several, so this also caps
/// their sum: the budget is per instance, whatever its shape.
pub struct InstanceLimits {
    pub inner: StoreLimits,
    /// Bytes all memories of the instance may hold together.
    pub max_total_memory: usize,
    total_memory: usize,
}

impl InstanceLimits {
    pub fn new(inner: StoreLimits, max_total_memory: usize) -> Self {
        Self { inner, max_total_memory, total_memory: 0 }
    }

    /// Bytes of linear memory the instance holds now.
    pub fn total_memory(&self) -> usize {
        self.total_memory
    }
}

impl ResourceLimiter for InstanceLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let grow = desired.saturating_sub(current);
        if self.total_memory.saturating_add(grow) > self.max_total_memory {
            return Ok(false);
        }
        let ok = self.inner.memory_growing(current, desired, maximum)?;
        if ok {
            self.total_memory += grow;
        }
        Ok(ok)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
