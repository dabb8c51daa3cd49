//! Tenant actors: one per tenant × provider kind (DESIGN key decision 3).
//!
//! A cloneable [`ProviderHandle`] sends jobs over a *bounded* channel to one
//! task that alone owns the wasmtime `Store`, so calls into one tenant's
//! plugin run strictly one at a time (the enventa ERP is not thread-safe)
//! while different tenants run in parallel. A full queue is answered at once
//! with [`CallError::Overloaded`]; the HTTP handler never waits for room.
//!
//! The instance is created on the first call and thrown away when a call
//! traps or overruns its wall-clock deadline; the next call gets a fresh one.
//! The task ends when every handle is gone and the queue is drained, which is
//! how a binding swap drains the old plugin while new calls go to the new.

use crate::ProviderKind;
use crate::answers;
use crate::bindings::types::{
    Activity, BatchResult, BulkSyncRequest, BulkSyncResult, CatalogFilter, CatalogPage, Category, Contact, Customer,
    CustomerFilter, ErpOrder, OrderRequest, Product, ProductDetails, ProductFilter, ProviderError, SyncResult,
};
use crate::bindings::{crm_provider, erp_provider, pim_provider};
use crate::capabilities::{self, Capabilities, Grants, log::LogLimit, socket::SocketCounters, socket::SocketLimits};
use crate::engine::{PluginComponent, PluginEngine};
use crate::state::{CpuMeter, InstanceLimits, Metered, PluginState};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::ResourceAny;
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};

/// Milliseconds since the Unix epoch (for "busy since" stamps).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Why a call did not produce the plugin's answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin answered with its WIT error value.
    #[error("{0:?}")]
    Provider(ProviderError),
    /// The actor's queue is full; retry later.
    #[error("the provider of tenant {tenant} is busy ({capacity} calls queued)")]
    Overloaded { tenant: String, capacity: usize },
    /// The plugin trapped; its instance was discarded.
    #[error("the plugin failed and was restarted: {0}")]
    Trap(String),
    /// The call overran its wall-clock deadline; the instance was discarded.
    #[error("the plugin did not answer within {0:?}")]
    Timeout(Duration),
    /// The instance could not be created.
    #[error("the plugin could not be started: {0}")]
    Instantiate(String),
    /// The bound component does not export this provider interface.
    #[error("the bound plugin does not export the {0} provider interface")]
    NotExported(ProviderKind),
    /// The stream cursor is unknown (closed, or its instance was recycled).
    #[error("the stream is no longer available")]
    CursorGone,
    /// The actor has shut down.
    #[error("the provider is shutting down")]
    Closed,
    /// The plugin's answer breaks a rule of the contract (see `answers.rs`);
    /// the instance was discarded and nothing was cached.
    #[error("the plugin's answer breaks the contract: {0}")]
    Contract(String),
    /// The plugin's answer is larger than the host accepts (lifted bytes or
    /// serialized JSON); the instance was discarded.
    #[error("the plugin's answer is too large: {0}")]
    AnswerTooLarge(String),
    /// Recent calls failed in a row; calls fail fast until the cooldown
    /// ends and a probe call succeeds.
    #[error("the provider of tenant {tenant} is failing; calls are suspended for {retry_after_secs} s")]
    CircuitOpen { tenant: String, retry_after_secs: u64 },
}

impl CallError {
    fn trap(e: wasmtime::Error) -> Self {
        // wasmtime's hostcall fuel stops lifting an answer (or a host-call
        // argument) larger than `max_answer_bytes`: that is a size limit,
        // not a crash of the plugin.
        if e.chain().any(|c| c.to_string().contains("fuel allocated for hostcalls has been exhausted")) {
            return CallError::AnswerTooLarge(
                "the plugin tried to pass more bytes in one call than the host's answer limit \
                 (limits.maxAnswerMib)"
                    .into(),
            );
        }
        // A runaway recursion carries a backtrace of thousands of frames
        // (with names the plugin chose); keep its head (where it started)
        // and tail (the trap reason), escaped.
        const HEAD: usize = 1024;
        const TAIL: usize = 512;
        let full = format!("{e:#}");
        if full.len() <= HEAD + TAIL + 64 {
            return CallError::Trap(crate::untrusted::sanitize(&full));
        }
        let head_end = (0..=HEAD).rev().find(|&i| full.is_char_boundary(i)).unwrap_or(0);
        let tail_start = (full.len() - TAIL..full.len()).find(|&i| full.is_char_boundary(i)).unwrap_or(full.len());
        let skipped = tail_start - head_end;
        CallError::Trap(format!(
            "{} […{skipped} bytes of backtrace…] {}",
            crate::untrusted::sanitize(&full[..head_end]),
            crate::untrusted::sanitize(&full[tail_start..])
        ))
    }

    fn cpu_budget_err<T>(budget: Duration) -> Result<T, Self> {
        Err(Self::cpu_budget(budget))
    }

    fn cpu_budget(budget: Duration) -> Self {
        CallError::Trap(format!(
            "the call exceeded its CPU budget of {} ms (guest code and the host calls it made)",
            budget.as_millis()
        ))
    }

    /// Whether the instance must be thrown away after this error.
    fn poisons(&self) -> bool {
        matches!(
            self,
            CallError::Trap(_) | CallError::Timeout(_) | CallError::Contract(_) | CallError::AnswerTooLarge(_)
        )
    }
}

/// Bounds of one actor and its instance.
#[derive(Clone, Debug)]
pub struct ActorSettings {
    /// Calls that may wait in the queue.
    pub queue_capacity: usize,
    /// Wall-clock limit of one call, including time spent in host calls
    /// (epochs do not advance a guest blocked on its socket).
    pub call_timeout: Duration,
    /// CPU time one call may use: guest code and the host calls it makes
    /// (thread CPU time, see `state::CpuMeter`). Instantiation (the
    /// component's start function) counts as a call.
    pub cpu_budget: Duration,
    /// Memory the instance may use, in bytes (all memories together).
    pub max_memory_bytes: usize,
    /// Stream cursors an instance may hold open at once.
    pub max_open_cursors: usize,
    /// Resource handles an instance may hold, host table and component
    /// tables each.
    pub max_handles: usize,
    /// Bytes the plugin may pass to the host in one call: an answer as
    /// lifted into host memory, or the arguments of one host call
    /// (wasmtime's hostcall fuel, counted per call).
    pub max_answer_bytes: usize,
    /// Bytes of JSON the host writes from one answer (a record, a batch,
    /// one pull of a stream); JSON escapes can make it larger than the
    /// lifted answer.
    pub max_answer_json_bytes: usize,
    /// Plugin log records per second admitted for the tenant (token
    /// bucket; the rest are dropped and counted), and the bucket's size.
    pub log_per_sec: u32,
    pub log_burst: u32,
    /// Requests per second admitted for the tenant (token bucket), if
    /// limited, and the bucket's size (default: one second's worth).
    pub rate_per_sec: Option<u32>,
    pub rate_burst: Option<u32>,
    pub socket: SocketLimits,
    /// Consecutive backend failures that open the circuit breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker fails calls fast before a probe.
    pub breaker_cooldown: Duration,
}

impl Default for ActorSettings {
    fn default() -> Self {
        Self {
            queue_capacity: 256,
            call_timeout: Duration::from_secs(30),
            cpu_budget: Duration::from_secs(10),
            max_memory_bytes: 256 * 1024 * 1024,
            max_open_cursors: 32,
            max_handles: 10_000,
            max_answer_bytes: 16 * 1024 * 1024,
            max_answer_json_bytes: 32 * 1024 * 1024,
            log_per_sec: 100,
            log_burst: 1_000,
            rate_per_sec: None,
            rate_burst: None,
            socket: SocketLimits::default(),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(5),
        }
    }
}

/// What one actor runs: a component bound to a tenant for one or more
/// kinds. When one artifact serves several kinds of a tenant, they share
/// one actor: one instance, one backend session, one serialized queue, and
/// state (orders, synced records) that every kind sees.
#[derive(Clone)]
pub struct ActorSpec {
    pub tenant: String,
    pub kinds: Vec<ProviderKind>,
    /// "name@version", for logs and status.
    pub plugin: String,
    pub component: Arc<PluginComponent>,
    pub settings: Arc<BTreeMap<String, String>>,
    /// The socket endpoint granted to this tenant, if any.
    pub socket: Option<String>,
    /// The tenant's plugin-log rate limit, shared by all its actors.
    pub log_limit: Arc<LogLimit>,
}

impl ActorSpec {
    /// What the binding grants each instance of this actor.
    fn grants(&self, settings: &ActorSettings, counters: &Arc<SocketCounters>) -> Grants {
        Grants {
            log: capabilities::log::Grant {
                tenant: self.tenant.clone(),
                plugin: self.plugin.clone(),
                limit: self.log_limit.clone(),
            },
            config: capabilities::config::Grant { tenant: self.tenant.clone(), settings: self.settings.clone() },
            socket: capabilities::socket::Grant {
                tenant: self.tenant.clone(),
                endpoint: self.socket.clone(),
                limits: settings.socket.clone(),
                counters: counters.clone(),
            },
        }
    }

    /// "erp+crm+pim": the kinds this actor serves, for logs and metrics.
    pub fn kinds_label(&self) -> String {
        self.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join("+")
    }
}

/// Counters of one actor (tenant × the kinds it serves).
#[derive(Default, Debug)]
pub struct ActorStats {
    pub queued: AtomicI64,
    pub calls: AtomicU64,
    pub restarts: AtomicU64,
    pub instances_created: AtomicU64,
    /// Calls currently inside the plugin (0 or 1 if serialization holds).
    pub in_call: AtomicI64,
    /// Largest `in_call` ever observed.
    pub max_in_call: AtomicI64,
    /// Times a call started while another one was inside the plugin.
    pub overlaps: AtomicU64,
    /// Stream cursors open in the instance right now.
    pub open_cursors: AtomicI64,
    /// When the running job (a call, or creating the instance) started, in
    /// ms since the epoch; 0 while idle. `/readyz` reports an actor busy
    /// for longer than its call timeout as stuck.
    pub busy_since_ms: AtomicU64,
}

impl ActorStats {
    /// How long the running job has been running, if one is.
    pub fn busy_for(&self) -> Option<Duration> {
        let since = self.busy_since_ms.load(Ordering::Relaxed);
        (since != 0).then(|| Duration::from_millis(crate::actor::now_ms().saturating_sub(since as i64) as u64))
    }
}

/// Per-actor circuit breaker: after `threshold` consecutive backend failures
/// (unavailable, timeout, trap) calls fail fast for `cooldown`; then one
/// probe call is let through: success closes the breaker, failure reopens
/// it. A dead container thus costs its tenant one fast 503 per call instead
/// of a full timeout, and costs other tenants nothing.
#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<std::time::Instant>,
    probe_started: Option<std::time::Instant>,
}

impl CallError {
    /// Whether this error says the backend is unhealthy.
    fn backend_failure(&self) -> bool {
        matches!(
            self,
            CallError::Provider(ProviderError::Unavailable(_) | ProviderError::Timeout(_))
                | CallError::Timeout(_)
                | CallError::Trap(_)
                | CallError::Instantiate(_)
        )
    }
}

/// What a job hands back: whether the instance may be kept, and the
/// delivery of the caller's answer. The actor delivers only after its
/// bookkeeping (a discarded Store is counted before the caller hears of the
/// trap), so a caller never observes counters that lag its own answer.
type JobDone = (bool, Box<dyn FnOnce() + Send>);
type Job = Box<dyn for<'a> FnOnce(Result<&'a mut Live, CallError>) -> BoxFuture<'a, JobDone> + Send>;

/// A cloneable handle to a tenant actor.
#[derive(Clone)]
pub struct ProviderHandle {
    breaker: Arc<std::sync::Mutex<Breaker>>,
    breaker_threshold: u32,
    breaker_cooldown: Duration,
    tx: mpsc::Sender<Job>,
    spec: Arc<ActorSpec>,
    stats: Arc<ActorStats>,
    capacity: usize,
}

/// A live instance, owned by the actor task.
pub struct Live {
    store: Store<PluginState>,
    erp: Option<erp_provider::Guest>,
    crm: Option<crm_provider::Guest>,
    pim: Option<pim_provider::Guest>,
    cursors: HashMap<u64, ResourceAny>,
    max_cursors: usize,
    /// The actor's counters; `open_cursors` is kept in step with `cursors`.
    stats: Arc<ActorStats>,
    stderr: wasmtime_wasi::p2::pipe::MemoryOutputPipe,
}

static NEXT_CURSOR: AtomicU64 = AtomicU64::new(1);

impl Live {
    fn erp(&mut self) -> Result<(&erp_provider::Guest, &mut Store<PluginState>), CallError> {
        Ok((self.erp.as_ref().ok_or(CallError::NotExported(ProviderKind::Erp))?, &mut self.store))
    }
    fn crm(&mut self) -> Result<(&crm_provider::Guest, &mut Store<PluginState>), CallError> {
        Ok((self.crm.as_ref().ok_or(CallError::NotExported(ProviderKind::Crm))?, &mut self.store))
    }
    fn pim(&mut self) -> Result<(&pim_provider::Guest, &mut Store<PluginState>), CallError> {
        Ok((self.pim.as_ref().ok_or(CallError::NotExported(ProviderKind::Pim))?, &mut self.store))
    }

    fn add_cursor(&mut self, r: ResourceAny) -> u64 {
        let id = NEXT_CURSOR.fetch_add(1, Ordering::Relaxed);
        self.cursors.insert(id, r);
        self.stats.open_cursors.fetch_add(1, Ordering::Relaxed);
        id
    }

    fn cursor(&self, id: u64) -> Result<ResourceAny, CallError> {
        self.cursors.get(&id).copied().ok_or(CallError::CursorGone)
    }

    fn check_cursor_room(&self) -> Result<(), CallError> {
        if self.cursors.len() >= self.max_cursors {
            return Err(CallError::Provider(ProviderError::Unavailable(format!(
                "too many open streams for this tenant (limit {})",
                self.max_cursors
            ))));
        }
        Ok(())
    }
}

/// Lifts a plugin call's two-level result: outer error = trap, inner = WIT error.
fn lift<T>(r: wasmtime::Result<Result<T, ProviderError>>) -> Result<T, CallError> {
    r.map_err(CallError::trap)?.map_err(CallError::Provider)
}

async fn instantiate(
    engine: &PluginEngine,
    spec: &ActorSpec,
    settings: &ActorSettings,
    counters: &Arc<SocketCounters>,
    stats: &Arc<ActorStats>,
) -> Result<Live, CallError> {
    let fail = |e: wasmtime::Error| CallError::Instantiate(format!("{e:#}"));
    let stderr = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(16 * 1024);
    let wasi = wasmtime_wasi::WasiCtxBuilder::new()
        // No network through WASI: `socket` is the only, granted, way out.
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
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
            return Err(wasmtime::format_err!(
                "the call exceeded its CPU budget of {} ms (guest code and the host calls it made)",
                cpu.budget().as_millis()
            ));
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
    Ok(Live {
        store,
        erp,
        crm,
        pim,
        cursors: HashMap::new(),
        max_cursors: settings.max_open_cursors,
        stats: stats.clone(),
        stderr,
    })
}

async fn run(
    engine: Arc<PluginEngine>,
    spec: Arc<ActorSpec>,
    settings: ActorSettings,
    stats: Arc<ActorStats>,
    counters: Arc<SocketCounters>,
    mut rx: mpsc::Receiver<Job>,
) {
    let mut live: Option<Live> = None;
    while let Some(job) = rx.recv().await {
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        stats.busy_since_ms.store(crate::actor::now_ms().max(1) as u64, Ordering::Relaxed);
        if live.is_none() {
            // Creating the instance runs plugin code (its start function):
            // bounded by the call timeout like a call. On a timeout the
            // half-built Store is dropped with the future: nothing leaks.
            let created = match tokio::time::timeout(
                settings.call_timeout,
                instantiate(&engine, &spec, &settings, &counters, &stats),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(CallError::Timeout(settings.call_timeout)),
            };
            match created {
                Ok(l) => {
                    stats.instances_created.fetch_add(1, Ordering::Relaxed);
                    live = Some(l);
                }
                Err(e) => {
                    tracing::error!(tenant = %spec.tenant, kinds = %spec.kinds_label(), plugin = %spec.plugin, "instantiation failed: {e}");
                    let (_, deliver) = job(Err(e)).await;
                    stats.busy_since_ms.store(0, Ordering::Relaxed);
                    deliver();
                    continue;
                }
            }
        }
        let l = live.as_mut().expect("instance was just created");
        l.store.data().cpu.reset(settings.cpu_budget);
        l.store.set_epoch_deadline(1);

        let inside = stats.in_call.fetch_add(1, Ordering::SeqCst) + 1;
        if inside > 1 {
            stats.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        stats.max_in_call.fetch_max(inside, Ordering::SeqCst);
        stats.calls.fetch_add(1, Ordering::Relaxed);
        let (keep, deliver) = job(Ok(l)).await;
        stats.in_call.fetch_sub(1, Ordering::SeqCst);
        stats.busy_since_ms.store(0, Ordering::Relaxed);

        if !keep {
            let l = live.take().expect("instance present");
            stats.open_cursors.fetch_sub(l.cursors.len() as i64, Ordering::Relaxed);
            let stderr = crate::untrusted::sanitize(String::from_utf8_lossy(&l.stderr.contents()).trim());
            tracing::warn!(tenant = %spec.tenant, kinds = %spec.kinds_label(), plugin = %spec.plugin, %stderr, "plugin instance discarded after a trap or timeout; the next call starts a fresh one");
            stats.restarts.fetch_add(1, Ordering::Relaxed);
            // Free the Store (memory, handles, pool slot) before answering.
            drop(l);
        }
        deliver();
    }
    tracing::debug!(tenant = %spec.tenant, kinds = %spec.kinds_label(), plugin = %spec.plugin, "actor drained and stopped");
}

impl ProviderHandle {
    /// Starts the actor task for `spec`. `stats` carries over from a
    /// previous binding of the same tenant × kind, if any.
    pub fn spawn(
        engine: Arc<PluginEngine>,
        spec: ActorSpec,
        settings: ActorSettings,
        stats: Arc<ActorStats>,
        counters: Arc<SocketCounters>,
    ) -> Self {
        let capacity = settings.queue_capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let spec = Arc::new(spec);
        let (breaker_threshold, breaker_cooldown) = (settings.breaker_threshold.max(1), settings.breaker_cooldown);
        tokio::spawn(run(engine, spec.clone(), settings, stats.clone(), counters, rx));
        Self { breaker: Default::default(), breaker_threshold, breaker_cooldown, tx, spec, stats, capacity }
    }

    pub fn spec(&self) -> &ActorSpec {
        &self.spec
    }

    pub fn stats(&self) -> &Arc<ActorStats> {
        &self.stats
    }

    /// Whether two handles reach the same actor task.
    pub fn same_actor(&self, other: &ProviderHandle) -> bool {
        self.tx.same_channel(&other.tx)
    }

    /// Whether the circuit breaker is failing calls fast right now.
    pub fn breaker_open(&self) -> bool {
        let b = self.breaker.lock().expect("breaker lock");
        b.open_until.is_some_and(|until| std::time::Instant::now() < until)
    }

    /// Calls waiting in the queue right now.
    pub fn queue_depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }

    /// Runs `f` on the instance, serialized with every other call of this
    /// actor, bounded by the call timeout. Never waits for queue room.
    async fn call<R, F>(&self, timeout: Duration, f: F) -> Result<R, CallError>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(&'a mut Live) -> BoxFuture<'a, Result<R, CallError>> + Send + 'static,
    {
        self.breaker_admit(timeout)?;
        let result = self.call_inner(timeout, f).await;
        self.breaker_record(result.as_ref().err());
        result
    }

    /// Fails fast while the breaker is open; lets one probe through after
    /// the cooldown (a probe older than the call timeout was abandoned).
    fn breaker_admit(&self, timeout: Duration) -> Result<(), CallError> {
        let now = std::time::Instant::now();
        let mut b = self.breaker.lock().expect("breaker lock");
        let Some(until) = b.open_until else { return Ok(()) };
        let probing = b.probe_started.is_some_and(|t| now.duration_since(t) < timeout);
        if now < until || probing {
            let secs = until.saturating_duration_since(now).as_secs().max(1);
            return Err(CallError::CircuitOpen { tenant: self.spec.tenant.clone(), retry_after_secs: secs });
        }
        b.probe_started = Some(now);
        Ok(())
    }

    fn breaker_record(&self, error: Option<&CallError>) {
        let mut b = self.breaker.lock().expect("breaker lock");
        match error {
            Some(e) if e.backend_failure() => {
                b.failures += 1;
                if b.probe_started.is_some() || b.failures >= self.breaker_threshold {
                    if b.open_until.is_none() || b.probe_started.is_some() {
                        tracing::warn!(tenant = %self.spec.tenant, failures = b.failures, "circuit breaker open: failing calls fast");
                    }
                    b.open_until = Some(std::time::Instant::now() + self.breaker_cooldown);
                    b.probe_started = None;
                }
            }
            Some(CallError::CircuitOpen { .. } | CallError::Overloaded { .. }) => {}
            _ => {
                if b.open_until.is_some() {
                    tracing::info!(tenant = %self.spec.tenant, "circuit breaker closed: the provider answers again");
                }
                *b = Breaker::default();
            }
        }
    }

    async fn call_inner<R, F>(&self, timeout: Duration, f: F) -> Result<R, CallError>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(&'a mut Live) -> BoxFuture<'a, Result<R, CallError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |live: Result<&mut Live, CallError>| {
            Box::pin(async move {
                let result = match live {
                    Err(e) => Err(e),
                    Ok(live) => {
                        let meter = live.store.data().cpu.clone();
                        match tokio::time::timeout(timeout, Metered::new(f(live), meter, CallError::cpu_budget_err))
                            .await
                        {
                            Ok(r) => r,
                            Err(_) => Err(CallError::Timeout(timeout)),
                        }
                    }
                };
                let keep = !result.as_ref().err().is_some_and(CallError::poisons);
                let deliver: Box<dyn FnOnce() + Send> = Box::new(move || {
                    let _ = reply.send(result);
                });
                (keep, deliver)
            })
        });
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.tx.try_send(job) {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(match e {
                mpsc::error::TrySendError::Full(_) => {
                    CallError::Overloaded { tenant: self.spec.tenant.clone(), capacity: self.capacity }
                }
                mpsc::error::TrySendError::Closed(_) => CallError::Closed,
            });
        }
        answer.await.unwrap_or(Err(CallError::Closed))
    }
}

/// A handle plus the per-call limits the runtime set for its tenant.
#[derive(Clone)]
pub struct Provider {
    pub handle: ProviderHandle,
    pub timeout: Duration,
    /// Largest JSON the host writes from one answer of this provider.
    pub max_answer_json_bytes: usize,
}

/// A plugin call, its answer lifted, then checked against the contract
/// (`answers.rs`) inside the job, so a violation discards the instance
/// before anyone sees the answer.
macro_rules! op {
    ($self:ident, $side:ident, |$g:ident, $s:ident| $body:expr, |$r:ident| $check:expr) => {
        $self.handle.call($self.timeout, move |live| {
            Box::pin(async move {
                let ($g, $s) = live.$side()?;
                let $r = lift($body.await)?;
                $check.map_err(CallError::Contract)
            })
        })
    };
}

impl Provider {
    // ---- erp-provider ----
    pub async fn get_product(&self, id: String) -> Result<Product, CallError> {
        op!(self, erp, |g, s| g.call_get_product(s, &id), |r| answers::one(&id, r)).await
    }
    pub async fn get_products(&self, ids: Vec<String>) -> Result<Vec<Option<Product>>, CallError> {
        op!(self, erp, |g, s| g.call_get_products(s, &ids), |r| answers::batch(&ids, r)).await
    }
    pub async fn get_customer(&self, id: String) -> Result<Customer, CallError> {
        op!(self, erp, |g, s| g.call_get_customer(s, &id), |r| answers::one(&id, r)).await
    }
    pub async fn get_customers(&self, ids: Vec<String>) -> Result<Vec<Option<Customer>>, CallError> {
        op!(self, erp, |g, s| g.call_get_customers(s, &ids), |r| answers::batch(&ids, r)).await
    }
    pub async fn create_order(&self, order: OrderRequest) -> Result<ErpOrder, CallError> {
        op!(self, erp, |g, s| g.call_create_order(s, &order), |r| answers::Record::check(&r).map(|()| r)).await
    }
    pub async fn create_orders(&self, orders: Vec<OrderRequest>) -> Result<BatchResult, CallError> {
        op!(self, erp, |g, s| g.call_create_orders(s, &orders), |r| answers::batch_result(orders.len(), &r).map(|()| r))
            .await
    }
    pub async fn sync_products(&self, items: Vec<Product>) -> Result<SyncResult, CallError> {
        op!(self, erp, |g, s| g.call_sync_products(s, &items), |r| {
            answers::sync_result(&items.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), &r).map(|()| r)
        })
        .await
    }
    pub async fn sync_customers(&self, items: Vec<Customer>) -> Result<SyncResult, CallError> {
        op!(self, erp, |g, s| g.call_sync_customers(s, &items), |r| {
            answers::sync_result(&items.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), &r).map(|()| r)
        })
        .await
    }
    pub async fn bulk_sync(&self, request: BulkSyncRequest) -> Result<BulkSyncResult, CallError> {
        op!(self, erp, |g, s| g.call_bulk_sync(s, &request), |r| {
            let products: Vec<&str> = request.products.iter().map(|p| p.id.as_str()).collect();
            let customers: Vec<&str> = request.customers.iter().map(|c| c.id.as_str()).collect();
            answers::sync_result(&products, &r.products)
                .map_err(|e| format!("products: {e}"))
                .and_then(|()| answers::sync_result(&customers, &r.customers).map_err(|e| format!("customers: {e}")))
                .map(|()| r)
        })
        .await
    }

    // ---- crm-provider ----
    pub async fn get_contact(&self, id: String) -> Result<Contact, CallError> {
        op!(self, crm, |g, s| g.call_get_contact(s, &id), |r| answers::one(&id, r)).await
    }
    pub async fn get_contacts(&self, ids: Vec<String>) -> Result<Vec<Option<Contact>>, CallError> {
        op!(self, crm, |g, s| g.call_get_contacts(s, &ids), |r| answers::batch(&ids, r)).await
    }
    pub async fn get_activities(&self, customer_id: String, limit: u32) -> Result<Vec<Activity>, CallError> {
        op!(self, crm, |g, s| g.call_get_activities(s, &customer_id, limit), |r| {
            answers::activities(&customer_id, limit, &r).map(|()| r)
        })
        .await
    }
    pub async fn get_activities_batch(
        &self,
        ids: Vec<String>,
        limit: u32,
    ) -> Result<Vec<Option<Vec<Activity>>>, CallError> {
        op!(self, crm, |g, s| g.call_get_activities_batch(s, &ids, limit), |r| answers::activities_batch(
            &ids, limit, r
        ))
        .await
    }

    // ---- pim-provider ----
    pub async fn get_product_details(&self, id: String) -> Result<ProductDetails, CallError> {
        op!(self, pim, |g, s| g.call_get_product_details(s, &id), |r| answers::one(&id, r)).await
    }
    pub async fn get_categories(&self) -> Result<Vec<Category>, CallError> {
        op!(self, pim, |g, s| g.call_get_categories(s), |r| answers::categories(&r).map(|()| r)).await
    }
    pub async fn get_catalog(
        &self,
        filter: CatalogFilter,
        page_size: u32,
        continuation: Option<String>,
    ) -> Result<CatalogPage, CallError> {
        op!(self, pim, |g, s| g.call_get_catalog(s, &filter, page_size, continuation.as_deref()), |r| {
            answers::catalog_page(page_size, &r.items, r.continuation.as_deref()).map(|()| r)
        })
        .await
    }

    // ---- streams: open a cursor, pull batches, close ----
    pub async fn open_products(&self, filter: ProductFilter) -> Result<u64, CallError> {
        self.open(move |live| {
            Box::pin(async move {
                let (g, s) = live.erp()?;
                let r = lift(g.call_stream_products(s, &filter).await)?;
                Ok(live.add_cursor(r))
            })
        })
        .await
    }
    pub async fn open_customers(&self, filter: CustomerFilter) -> Result<u64, CallError> {
        self.open(move |live| {
            Box::pin(async move {
                let (g, s) = live.erp()?;
                let r = lift(g.call_stream_customers(s, &filter).await)?;
                Ok(live.add_cursor(r))
            })
        })
        .await
    }
    pub async fn open_catalog(&self, filter: CatalogFilter) -> Result<u64, CallError> {
        self.open(move |live| {
            Box::pin(async move {
                let (g, s) = live.pim()?;
                let r = lift(g.call_stream_catalog(s, &filter).await)?;
                Ok(live.add_cursor(r))
            })
        })
        .await
    }

    async fn open<F>(&self, f: F) -> Result<u64, CallError>
    where
        F: for<'a> FnOnce(&'a mut Live) -> BoxFuture<'a, Result<u64, CallError>> + Send + 'static,
    {
        self.handle
            .call(self.timeout, move |live| {
                Box::pin(async move {
                    live.check_cursor_room()?;
                    f(live).await
                })
            })
            .await
    }

    pub async fn next_products(&self, cursor: u64, max: u32) -> Result<Vec<Product>, CallError> {
        self.next(cursor, move |live, r| {
            Box::pin(async move {
                let (g, s) = live.erp()?;
                answers::pulled(max, lift(g.product_cursor().call_next(s, r, max).await)?).map_err(CallError::Contract)
            })
        })
        .await
    }
    pub async fn next_customers(&self, cursor: u64, max: u32) -> Result<Vec<Customer>, CallError> {
        self.next(cursor, move |live, r| {
            Box::pin(async move {
                let (g, s) = live.erp()?;
                answers::pulled(max, lift(g.customer_cursor().call_next(s, r, max).await)?).map_err(CallError::Contract)
            })
        })
        .await
    }
    pub async fn next_catalog(&self, cursor: u64, max: u32) -> Result<Vec<ProductDetails>, CallError> {
        self.next(cursor, move |live, r| {
            Box::pin(async move {
                let (g, s) = live.pim()?;
                answers::pulled(max, lift(g.catalog_cursor().call_next(s, r, max).await)?).map_err(CallError::Contract)
            })
        })
        .await
    }

    async fn next<R, F>(&self, cursor: u64, f: F) -> Result<R, CallError>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(&'a mut Live, ResourceAny) -> BoxFuture<'a, Result<R, CallError>> + Send + 'static,
    {
        self.handle
            .call(self.timeout, move |live| {
                Box::pin(async move {
                    let r = live.cursor(cursor)?;
                    f(live, r).await
                })
            })
            .await
    }

    /// Drops a cursor inside the plugin. Unknown ids are fine: the
    /// instance may have been recycled since.
    pub async fn close_cursor(&self, cursor: u64) -> Result<(), CallError> {
        self.handle
            .call(self.timeout, move |live| {
                Box::pin(async move {
                    if let Some(r) = live.cursors.remove(&cursor) {
                        live.stats.open_cursors.fetch_sub(1, Ordering::Relaxed);
                        r.resource_drop_async(&mut live.store).await.map_err(CallError::trap)?;
                    }
                    Ok(())
                })
            })
            .await
    }

    /// Throws the instance away after the HTTP side found its answer
    /// unusable (its JSON over `max_answer_json_bytes`): the next call gets
    /// a fresh instance. The plugin's own state goes with it, as after a trap.
    pub async fn discard_instance(&self, why: String) {
        let _ = self
            .handle
            .call(self.timeout, move |_live| Box::pin(async move { Err::<(), _>(CallError::AnswerTooLarge(why)) }))
            .await;
    }
}
