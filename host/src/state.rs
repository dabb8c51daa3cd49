//! The one Store-data struct of a plugin instance: WASI context, resource
//! table, each capability's state, resource limits and call accounting.

use crate::capabilities::{config::ConfigState, log::LogState, socket::SocketState};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
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

/// Live plugin instances and the linear memory they hold, host-wide: the
/// counters that must return to their baseline after any hostile call
/// (exported as `plugin_instances` and `plugin_memory_bytes`).
#[derive(Debug, Default)]
pub struct GuestGauges {
    pub instances: AtomicI64,
    pub memory_bytes: AtomicI64,
}

/// Resource limits of one instance. wasmtime's `StoreLimits` caps each
/// linear memory on its own; a component has several, so this also caps
/// their sum: the budget is per instance, whatever its shape. It also keeps
/// the host-wide gauges: dropped with its Store, it gives back what it took.
pub struct InstanceLimits {
    pub inner: StoreLimits,
    /// Bytes all memories of the instance may hold together.
    pub max_total_memory: usize,
    total_memory: usize,
    gauges: Arc<GuestGauges>,
}

impl InstanceLimits {
    pub fn new(inner: StoreLimits, max_total_memory: usize, gauges: Arc<GuestGauges>) -> Self {
        gauges.instances.fetch_add(1, Ordering::Relaxed);
        Self { inner, max_total_memory, total_memory: 0, gauges }
    }
}

impl Drop for InstanceLimits {
    fn drop(&mut self) {
        self.gauges.instances.fetch_sub(1, Ordering::Relaxed);
        self.gauges.memory_bytes.fetch_sub(self.total_memory as i64, Ordering::Relaxed);
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
            self.gauges.memory_bytes.fetch_add(grow as i64, Ordering::Relaxed);
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
