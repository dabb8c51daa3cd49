//! The one Store-data struct of a plugin instance: WASI context, resource
//! table, the capabilities' state, resource limits and call accounting.
//! The capabilities are one field: which ones there are is decided in
//! `capabilities/mod.rs`, not here.

use crate::capabilities::{Capabilities, CapabilitiesView};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct PluginState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub capabilities: Capabilities,
    pub limits: InstanceLimits,
    /// CPU time of the current call (guest code and the host calls it
    /// makes); reset before every call so the budget is per call.
    pub cpu: Arc<CpuMeter>,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl CapabilitiesView for PluginState {
    fn capabilities(&mut self) -> &mut Capabilities {
        &mut self.capabilities
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

/// CPU time one call has used, measured as the CPU time of the thread that
/// polls the call, summed over its polls ([`Metered`]).
///
/// Epoch ticks alone count only time the guest spends in its own code: a
/// guest that spends its call inside host functions that work for it (WASI
/// random bytes, say) is checked once per return from the host, however
/// long the host worked. Thread CPU time counts both, and does not count
/// time the call waits (a socket read, a sleep), which the wall-clock
/// timeout bounds instead.
#[derive(Debug, Default)]
pub struct CpuMeter {
    budget_ns: AtomicU64,
    /// CPU time of finished polls of the current call.
    used_ns: AtomicU64,
    /// Thread CPU time when the running poll started; 0 between polls.
    poll_started_ns: AtomicU64,
}

fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    (t.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec as u64).max(1)
}

impl CpuMeter {
    /// Starts a new call with `budget`.
    pub fn reset(&self, budget: Duration) {
        self.budget_ns.store(budget.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
        self.used_ns.store(0, Ordering::Relaxed);
    }

    /// CPU time of the current call so far, including the running poll.
    pub fn used(&self) -> Duration {
        let started = self.poll_started_ns.load(Ordering::Relaxed);
        let running = if started == 0 { 0 } else { thread_cpu_ns().saturating_sub(started) };
        Duration::from_nanos(self.used_ns.load(Ordering::Relaxed).saturating_add(running))
    }

    pub fn budget(&self) -> Duration {
        Duration::from_nanos(self.budget_ns.load(Ordering::Relaxed))
    }

    pub fn exhausted(&self) -> bool {
        self.used() > self.budget()
    }
}

/// A call's future, metered by `meter`: each poll's thread CPU time is
/// added to the call, and a call over its budget ends with
/// `over_budget()` instead of being polled again (dropping it drops the
/// guest's stack; the caller discards the instance).
pub struct Metered<'a, T: 'a> {
    inner: Pin<Box<dyn Future<Output = T> + Send + 'a>>,
    meter: Arc<CpuMeter>,
    over_budget: fn(Duration) -> T,
}

impl<'a, T: 'a> Metered<'a, T> {
    pub fn new(
        inner: Pin<Box<dyn Future<Output = T> + Send + 'a>>,
        meter: Arc<CpuMeter>,
        over_budget: fn(Duration) -> T,
    ) -> Self {
        Self { inner, meter, over_budget }
    }
}

impl<'a, T: 'a> Future for Metered<'a, T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let start = thread_cpu_ns();
        self.meter.poll_started_ns.store(start, Ordering::Relaxed);
        let r = self.inner.as_mut().poll(cx);
        let spent = thread_cpu_ns().saturating_sub(start);
        self.meter.poll_started_ns.store(0, Ordering::Relaxed);
        self.meter.used_ns.fetch_add(spent, Ordering::Relaxed);
        match r {
            Poll::Pending if self.meter.exhausted() => Poll::Ready((self.over_budget)(self.meter.budget())),
            r => r,
        }
    }
}
