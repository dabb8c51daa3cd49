//! A plugin instance: building a Store and instance for an [`ActorSpec`]
//! under its [`ActorSettings`], and the live instance the actor task owns,
//! with the stream cursors open in it.

use super::error::{CallError, cpu_budget_message};
use super::output::PluginOutput;
use super::spec::{ActorSettings, ActorSpec};
use super::stats::ActorStats;
use crate::ProviderKind;
use crate::bindings::types::ProviderError;
use crate::bindings::{crm_provider, erp_provider, lifecycle, pim_provider};
use crate::capabilities::{Capabilities, socket::SocketCounters};
use crate::engine::PluginEngine;
use crate::state::{CpuMeter, InstanceLimits, Metered, PluginState};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime::component::ResourceAny;
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};

/// A live instance, owned by the actor task.
pub struct Live {
    store: Store<PluginState>,
    erp: Option<erp_provider::Guest>,
    crm: Option<crm_provider::Guest>,
    pim: Option<pim_provider::Guest>,
    lifecycle: Option<lifecycle::Guest>,
    cursors: HashMap<u64, ResourceAny>,
    max_cursors: usize,
    /// The actor's counters; `open_cursors` is kept in step with `cursors`.
    stats: Arc<ActorStats>,
    stdout: PluginOutput,
    stderr: PluginOutput,
}

/// Cursor ids are unique over the process, not per instance, so an id from
/// a discarded instance never names a cursor of its successor.
static NEXT_CURSOR: AtomicU64 = AtomicU64::new(1);

impl Live {
    pub(super) fn erp(&mut self) -> Result<(&erp_provider::Guest, &mut Store<PluginState>), CallError> {
        Ok((self.erp.as_ref().ok_or(CallError::NotExported(ProviderKind::Erp))?, &mut self.store))
    }
    pub(super) fn crm(&mut self) -> Result<(&crm_provider::Guest, &mut Store<PluginState>), CallError> {
        Ok((self.crm.as_ref().ok_or(CallError::NotExported(ProviderKind::Crm))?, &mut self.store))
    }
    pub(super) fn pim(&mut self) -> Result<(&pim_provider::Guest, &mut Store<PluginState>), CallError> {
        Ok((self.pim.as_ref().ok_or(CallError::NotExported(ProviderKind::Pim))?, &mut self.store))
    }

    /// `lifecycle.init` (contract 1.1; a 1.0.0 plugin has none and is
    /// ready as instantiated). Its error is [`CallError::Init`].
    pub(super) async fn init(&mut self) -> Result<(), CallError> {
        let Some(l) = &self.lifecycle else { return Ok(()) };
        l.call_init(&mut self.store).await.map_err(CallError::trap)?.map_err(CallError::Init)
    }

    /// `lifecycle.shutdown`, if the plugin has it: the instance's last call.
    pub(super) async fn shutdown(&mut self) -> Result<(), CallError> {
        let Some(l) = &self.lifecycle else { return Ok(()) };
        l.call_shutdown(&mut self.store).await.map_err(CallError::trap)
    }

    /// Whether the plugin takes lifecycle calls (contract 1.1).
    pub(super) fn has_lifecycle(&self) -> bool {
        self.lifecycle.is_some()
    }

    /// Arms the CPU budget and the epoch deadline for the next call.
    pub(super) fn begin_call(&mut self, cpu_budget: Duration) {
        self.store.data().cpu.reset(cpu_budget);
        self.store.set_epoch_deadline(1);
    }

    /// The meter of the running call's CPU time.
    pub(super) fn cpu(&self) -> Arc<CpuMeter> {
        self.store.data().cpu.clone()
    }

    pub(super) fn add_cursor(&mut self, r: ResourceAny) -> u64 {
        let id = NEXT_CURSOR.fetch_add(1, Ordering::Relaxed);
        self.cursors.insert(id, r);
        self.stats.open_cursors.fetch_add(1, Ordering::Relaxed);
        id
    }

    pub(super) fn cursor(&self, id: u64) -> Result<ResourceAny, CallError> {
        self.cursors.get(&id).copied().ok_or(CallError::CursorGone)
    }

    pub(super) fn check_cursor_room(&self) -> Result<(), CallError> {
        if self.cursors.len() >= self.max_cursors {
            return Err(CallError::Provider(ProviderError::Unavailable(format!(
                "too many open streams for this tenant (limit {})",
                self.max_cursors
            ))));
        }
        Ok(())
    }

    /// Drops a cursor inside the plugin; an unknown id is fine.
    pub(super) async fn close_cursor(&mut self, id: u64) -> Result<(), CallError> {
        if let Some(r) = self.cursors.remove(&id) {
            self.stats.open_cursors.fetch_sub(1, Ordering::Relaxed);
            r.resource_drop_async(&mut self.store).await.map_err(CallError::trap)?;
        }
        Ok(())
    }

    /// Logs what the last call wrote to stdout and stderr (one bounded
    /// record per stream, charged to the tenant's plugin-log budget).
    pub(super) fn log_output(&mut self) {
        let log = &self.store.data().capabilities.log;
        if let Some(out) = self.stdout.take() {
            log.output("stdout", &out.text, out.dropped);
        }
        if let Some(err) = self.stderr.take() {
            log.output("stderr", &err.text, err.dropped);
        }
    }

    /// Throws the instance away (its Store, memory, handles and pool slot
    /// are freed on return) and hands back what the failing call wrote to
    /// stderr, escaped, for the log line that says why.
    pub(super) fn discard(self) -> String {
        self.stats.open_cursors.fetch_sub(self.cursors.len() as i64, Ordering::Relaxed);
        if let Some(out) = self.stdout.take() {
            self.store.data().capabilities.log.output("stdout", &out.text, out.dropped);
        }
        let err = self.stderr.take().map(|e| e.text).unwrap_or_default();
        crate::untrusted::sanitize(&err)
    }
}

/// Creates the Store and instance for `spec`. The caller bounds it by the
/// call timeout; the CPU budget is applied here.
pub(super) async fn instantiate(
    engine: &PluginEngine,
    spec: &ActorSpec,
    settings: &ActorSettings,
    counters: &Arc<SocketCounters>,
    stats: &Arc<ActorStats>,
) -> Result<Live, CallError> {
    let fail = |e: wasmtime::Error| match e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        // Every instance slot of the pool is taken (by other tenants):
        // the host's limit, not something wrong with this plugin.
        Some(full) => CallError::HostFull(full.to_string()),
        None => CallError::Instantiate(format!("{e:#}")),
    };
    let (stdout, stderr) = (PluginOutput::default(), PluginOutput::default());
    let wasi = wasmtime_wasi::WasiCtxBuilder::new()
        // No network through WASI: `socket` is the only, granted, way out.
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .build();
    let state = PluginState {
        wasi,
        table: wasmtime::component::ResourceTable::new(),
        capabilities: Capabilities::new(&spec.grants(settings, counters)),
        limits: InstanceLimits::new(
            StoreLimitsBuilder::new()
                .memory_size(settings.max_memory_bytes)
                .instances(32)
                .tables(64)
                .memories(8)
                .table_elements(1_000_000)
                .build(),
            settings.max_memory_bytes,
            engine.gauges().clone(),
        ),
        cpu: Arc::new(CpuMeter::default()),
    };
    let mut store = Store::new(engine.engine(), state);
    // Handles: host-side resources (WASI pollables, streams) and the
    // component's own resource handles are both capped, so a guest cannot
    // grow host memory through handles it never drops. (Socket connections
    // sit in the socket capability's table, capped by its own limit.)
    store.data_mut().table.set_max_capacity(settings.max_handles);
    store.set_max_component_handles(settings.max_handles);
    store.limiter(|s| &mut s.limits);
    // What the plugin can make the host copy in one call (its answer, or
    // the arguments of one host call): wasmtime's default is 128 MiB; the
    // host sets its own so that the limit is a stated, tested number.
    store.set_hostcall_fuel(settings.max_answer_bytes);
    store.epoch_deadline_callback(|ctx| {
        let cpu = &ctx.data().cpu;
        if cpu.exhausted() {
            return Err(wasmtime::format_err!("{}", cpu_budget_message(cpu.budget())));
        }
        // Yield each tick so one busy guest cannot starve the executor.
        Ok(UpdateDeadline::Yield(1))
    });
    store.set_epoch_deadline(1);
    let c = &spec.component;
    // The component's start function runs here: it is plugin code like any
    // call, so it runs under the CPU budget (the caller adds the timeout).
    let meter = store.data().cpu.clone();
    meter.reset(settings.cpu_budget);
    let started =
        Metered::new(Box::pin(async { c.pre.instantiate_async(&mut store).await.map_err(fail) }), meter.clone(), |b| {
            Err(CallError::Timeout(b))
        })
        .await;
    let instance = match started {
        // The epoch callback stopped a start function over its budget.
        Err(CallError::Instantiate(_)) if meter.exhausted() => return Err(CallError::Timeout(meter.budget())),
        r => r?,
    };
    let erp = c.erp.as_ref().map(|i| i.load(&mut store, &instance)).transpose().map_err(fail)?;
    let crm = c.crm.as_ref().map(|i| i.load(&mut store, &instance)).transpose().map_err(fail)?;
    let pim = c.pim.as_ref().map(|i| i.load(&mut store, &instance)).transpose().map_err(fail)?;
    let lifecycle = c.lifecycle.as_ref().map(|i| i.load(&mut store, &instance)).transpose().map_err(fail)?;
    Ok(Live {
        store,
        erp,
        crm,
        pim,
        lifecycle,
        cursors: HashMap::new(),
        max_cursors: settings.max_open_cursors,
        stats: stats.clone(),
        stdout,
        stderr,
    })
}
