//! Which actor serves which tenant × provider kind, and turning registry
//! bindings into running actors.
//!
//! Activation compiles (or fetches from the compile cache) every pinned
//! component first and only then swaps the actor map, so a failing plugin
//! never replaces a working one. The old actor is not stopped: requests
//! already holding its handle (including open streams) finish on it, and it
//! ends once the last handle is dropped and its queue is empty.

use crate::ProviderKind;
use crate::actor::{ActorControl, ActorSettings, ActorSpec, ActorStats, PluginRef, Provider, ProviderHandle};
use crate::capabilities::{self, log::LogLimit, socket::SocketCounters};
use crate::engine::{EngineError, PluginComponent, PluginEngine};
use b2c_registry::{BindingRecord, HostContract, Pin, Registry};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("registry: {0}")]
    Registry(#[from] b2c_registry::Error),
    #[error("{plugin}: {source}")]
    Engine { plugin: PluginRef, source: EngineError },
    #[error("{plugin} is pinned for {kind} but does not export the {kind} provider interface")]
    MissingExport { plugin: PluginRef, kind: ProviderKind },
    #[error("{0}")]
    Limits(#[from] crate::limits::LimitError),
    #[error("the host is shutting down")]
    ShuttingDown,
    #[error("{plugin} refused the binding: {reason}")]
    Refused { plugin: PluginRef, reason: String },
}

type Key = (String, ProviderKind);

pub struct Runtime {
    engine: Arc<PluginEngine>,
    registry: Arc<Registry>,
    settings: ActorSettings,
    actors: RwLock<HashMap<Key, Provider>>,
    socket_counters: Arc<SocketCounters>,
    rates: crate::rate::RateLimits,
    /// Restarts of actors that have since been replaced, so the metric is
    /// cumulative over binding swaps.
    retired_restarts: AtomicU64,
    /// Each tenant's plugin-log budget; kept across rebinds so a rebind
    /// does not refill it and its dropped count stays cumulative.
    log_limits: std::sync::Mutex<HashMap<String, Arc<LogLimit>>>,
    /// Tenants whose start-up activation has not finished or failed. The
    /// host listens before its plugins compile (a cold compile cache takes
    /// seconds per plugin); until then a tenant answers 503 and `/readyz`
    /// names it.
    starting: std::sync::Mutex<BTreeMap<String, Starting>>,
    /// Every actor this runtime started that may still run (tenants',
    /// retired ones still draining, bind checks): the host's exit stops
    /// and waits for all of them.
    controls: std::sync::Mutex<Vec<ActorControl>>,
    /// Set by [`Runtime::shutdown`]: no actor is started after it.
    closing: std::sync::atomic::AtomicBool,
}

/// A tenant's start-up activation, until it is live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Starting {
    /// Its plugins are compiling (or being read from the compile cache).
    Compiling,
    /// Its binding could not be activated; the reason, for operators.
    Failed(String),
}

/// The contract this host implements, for registry checks.
pub fn host_contract() -> HostContract {
    HostContract {
        package: crate::bindings::CONTRACT_PACKAGE.to_string(),
        version: semver::Version::parse(crate::bindings::CONTRACT_VERSION).expect("CONTRACT_VERSION is semver"),
        // `types` holds only the records the other interfaces use, no host
        // functions, so it is part of the contract but not a capability.
        host_interfaces: std::iter::once(&"types").chain(capabilities::INTERFACES).map(|i| i.to_string()).collect(),
        // Exactly the WASI packages the linker provides (wasmtime-wasi p2);
        // sockets link, but every socket use is denied at run time.
        other_prefixes: ["wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:cli/", "wasi:filesystem/", "wasi:sockets/"]
            .map(String::from)
            .to_vec(),
    }
}

impl Runtime {
    pub fn new(engine: Arc<PluginEngine>, registry: Arc<Registry>, settings: ActorSettings) -> Self {
        Self {
            engine,
            registry,
            settings,
            actors: RwLock::new(HashMap::new()),
            socket_counters: Arc::new(SocketCounters::default()),
            retired_restarts: AtomicU64::new(0),
            rates: Default::default(),
            log_limits: Default::default(),
            starting: Default::default(),
            controls: Default::default(),
            closing: Default::default(),
        }
    }

    pub fn engine(&self) -> &Arc<PluginEngine> {
        &self.engine
    }

    pub fn socket_counters(&self) -> &Arc<SocketCounters> {
        &self.socket_counters
    }

    /// Instance restarts over the life of the process.
    pub fn total_restarts(&self) -> u64 {
        self.retired_restarts.load(Ordering::Relaxed)
            + self.providers().iter().map(|p| p.handle.stats().restarts.load(Ordering::Relaxed)).sum::<u64>()
    }

    /// Plugin log records dropped over each tenant's budget, by tenant.
    pub fn log_dropped(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self
            .log_limits
            .lock()
            .expect("log limits lock")
            .iter()
            .map(|(t, l)| (t.clone(), l.dropped.load(Ordering::Relaxed)))
            .collect();
        v.sort();
        v
    }

    /// The provider serving `tenant` for `kind`, if bound.
    pub fn provider(&self, tenant: &str, kind: ProviderKind) -> Option<Provider> {
        self.actors.read().expect("actor map lock").get(&(tenant.to_string(), kind)).cloned()
    }

    /// Every running actor once (kinds sharing an actor appear once), by
    /// tenant, for status and metrics.
    pub fn providers(&self) -> Vec<Provider> {
        let actors = self.actors.read().expect("actor map lock");
        let mut v: Vec<Provider> = Vec::new();
        for p in actors.values() {
            if !v.iter().any(|q| q.handle.same_actor(&p.handle)) {
                v.push(p.clone());
            }
        }
        v.sort_by_key(|p| (p.handle.spec().tenant.clone(), p.handle.spec().kinds_label()));
        v
    }

    /// Compiles every pinned component (or takes it from the cache) and
    /// checks it exports what it is pinned for. Kinds pinned to the same
    /// artifact are grouped: they will share one actor (see `ActorSpec`).
    pub async fn preload(
        &self,
        pins: &BTreeMap<ProviderKind, Pin>,
    ) -> Result<Vec<(Vec<ProviderKind>, PluginRef, Arc<PluginComponent>)>, RuntimeError> {
        let mut groups: BTreeMap<&str, Vec<ProviderKind>> = BTreeMap::new();
        for (kind, pin) in pins {
            groups.entry(pin.sha256.as_str()).or_default().push(*kind);
        }
        let mut out = Vec::new();
        for (sha256, kinds) in groups {
            let pin = &pins[&kinds[0]];
            let plugin = PluginRef { name: pin.plugin.clone(), version: pin.version.clone() };
            let bytes = self.registry.artifact(sha256)?;
            let component = self
                .engine
                .load(sha256, Arc::new(bytes))
                .await
                .map_err(|source| RuntimeError::Engine { plugin: plugin.clone(), source })?;
            if let Some(kind) = kinds.iter().find(|k| !component.kinds().contains(k)) {
                return Err(RuntimeError::MissingExport { plugin, kind: *kind });
            }
            out.push((kinds, plugin, component));
        }
        Ok(out)
    }

    /// `tenant`'s plugin-log budget at the rate `settings` give (kept across
    /// rebinds; a new rate starts a new bucket with the dropped count kept).
    fn log_limit(&self, tenant: &str, settings: &ActorSettings) -> Arc<LogLimit> {
        let mut limits = self.log_limits.lock().expect("log limits lock");
        let l = limits
            .entry(tenant.to_string())
            .or_insert_with(|| Arc::new(LogLimit::new(settings.log_per_sec, settings.log_burst)));
        if !l.same_rate(settings.log_per_sec, settings.log_burst) {
            let dropped = l.dropped.load(Ordering::Relaxed);
            *l = Arc::new(LogLimit::new(settings.log_per_sec, settings.log_burst));
            l.dropped.store(dropped, Ordering::Relaxed);
        }
        l.clone()
    }

    /// A new actor for `spec`, with fresh counters, on this host's engine
    /// and socket counters.
    fn spawn_actor(&self, spec: ActorSpec, settings: &ActorSettings) -> ProviderHandle {
        let handle = ProviderHandle::spawn(
            self.engine.clone(),
            spec,
            settings.clone(),
            Arc::new(ActorStats::default()),
            self.socket_counters.clone(),
        );
        let mut controls = self.controls.lock().expect("controls lock");
        controls.retain(|c| !c.has_finished());
        controls.push(handle.control());
        handle
    }

    fn closing(&self) -> Result<(), RuntimeError> {
        match self.closing.load(Ordering::SeqCst) {
            true => Err(RuntimeError::ShuttingDown),
            false => Ok(()),
        }
    }

    /// Checks a binding before it is committed: loads every pinned
    /// component and, for each that has `lifecycle` (contract 1.1), starts
    /// a throwaway instance with the binding's settings and socket and
    /// runs its `init`. The instance is shut down (`lifecycle.shutdown`)
    /// and gone before this returns. An init that refuses (a bad setting,
    /// a trap; not a back end that is down) refuses the binding.
    pub async fn check_binding(
        &self,
        tenant: &str,
        config: &BTreeMap<String, String>,
        socket: Option<&str>,
        pins: &BTreeMap<ProviderKind, Pin>,
    ) -> Result<(), RuntimeError> {
        let actor_settings = self.settings_for(config)?;
        let settings = Arc::new(crate::limits::plugin_config(config));
        for (kinds, plugin, component) in self.preload(pins).await? {
            self.closing()?;
            if component.lifecycle.is_none() {
                continue;
            }
            let spec =
                ActorSpec {
                    tenant: tenant.to_string(),
                    kinds,
                    plugin: plugin.clone(),
                    component,
                    settings: settings.clone(),
                    socket: socket.map(str::to_string),
                    // The tenant's budget if it has one; a refused bind of a
                    // new tenant leaves no per-tenant state (or metric) behind.
                    log_limit: self.log_limits.lock().expect("log limits lock").get(tenant).cloned().unwrap_or_else(
                        || Arc::new(LogLimit::new(actor_settings.log_per_sec, actor_settings.log_burst)),
                    ),
                };
            let handle = self.spawn_actor(spec, &actor_settings);
            let started = handle.start(actor_settings.call_timeout).await;
            let finished = handle.finished();
            drop(handle);
            // The trial instance's shutdown runs now, bounded by the
            // actor's own shutdown limit.
            let _ = tokio::time::timeout(crate::actor::SHUTDOWN_WAIT, finished).await;
            match started {
                Err(e) if e.refuses_binding() => {
                    return Err(RuntimeError::Refused { plugin, reason: e.in_lifecycle("init") });
                }
                Err(e) => {
                    tracing::warn!(%tenant, %plugin, "binding accepted although its plugin could not start now: {e}")
                }
                Ok(()) => {}
            }
        }
        Ok(())
    }

    /// Ends every actor of this host on purpose, for its exit: no actor
    /// starts after this, the actor map is emptied, and every actor still
    /// running (tenants', retired ones draining after a rebind, bind
    /// checks) is told to stop after its running job; each then runs its
    /// instance's `lifecycle.shutdown` (at most 5 s). Waits for them at most
    /// `limit`. Queued calls and open streams are answered `Closed`.
    pub async fn shutdown(&self, limit: Duration) {
        self.closing.store(true, Ordering::SeqCst);
        self.actors.write().expect("actor map lock").clear();
        let controls = std::mem::take(&mut *self.controls.lock().expect("controls lock"));
        for c in &controls {
            c.stop();
        }
        let waits: Vec<_> = controls.iter().map(ActorControl::finished).collect();
        if tokio::time::timeout(limit, futures::future::join_all(waits)).await.is_err() {
            tracing::warn!(
                limit_ms = limit.as_millis() as u64,
                "actors still busy at shutdown; their instances end with the process"
            );
        }
    }

    /// Admits one request of `tenant` under its rate limit, or says how
    /// long to wait.
    pub fn admit(&self, tenant: &str) -> Result<(), Duration> {
        self.rates.admit(tenant)
    }

    /// The actor settings of this host, before a binding's `limits.*`.
    pub fn settings(&self) -> &ActorSettings {
        &self.settings
    }

    /// The actor settings a binding with `config` runs under: the host
    /// defaults with the tenant's `limits.*` overrides.
    pub fn settings_for(&self, config: &BTreeMap<String, String>) -> Result<ActorSettings, crate::limits::LimitError> {
        crate::limits::apply(&self.settings, config, self.engine.max_memory_bytes())
    }

    /// Makes `binding` the live configuration of its tenant.
    pub async fn activate(&self, binding: &BindingRecord) -> Result<(), RuntimeError> {
        self.activate_as(binding, false).await
    }

    /// Why `tenant` has no live actors yet, if it is starting.
    pub fn starting(&self, tenant: &str) -> Option<Starting> {
        self.starting.lock().expect("starting lock").get(tenant).cloned()
    }

    /// Every tenant still starting (or failed at start-up), by name.
    pub fn starting_all(&self) -> Vec<(String, Starting)> {
        self.starting.lock().expect("starting lock").iter().map(|(t, s)| (t.clone(), s.clone())).collect()
    }

    /// Marks every bound tenant as starting and returns their bindings,
    /// for [`Runtime::finish_startup`]. Cheap: reads the registry only, so
    /// the host can listen right after it.
    pub fn begin_startup(&self) -> Result<Vec<BindingRecord>, RuntimeError> {
        let bindings: Vec<BindingRecord> = self.registry.tenants()?.into_iter().filter_map(|t| t.binding).collect();
        let mut starting = self.starting.lock().expect("starting lock");
        for b in &bindings {
            starting.insert(b.tenant.clone(), Starting::Compiling);
        }
        Ok(bindings)
    }

    /// Activates the bindings [`Runtime::begin_startup`] returned, all at
    /// once (the engine's compile slots bound how many compile together).
    /// A tenant whose plugin fails to load stays `Failed` with the reason,
    /// so one bad plugin does not keep the others down. A tenant rebound
    /// meanwhile keeps its new binding.
    pub async fn finish_startup(&self, bindings: Vec<BindingRecord>) {
        futures::future::join_all(bindings.iter().map(|b| async move {
            if let Err(e) = self.activate_as(b, true).await {
                tracing::error!(tenant = %b.tenant, "could not activate binding: {e}");
                let mut starting = self.starting.lock().expect("starting lock");
                if let Some(s) = starting.get_mut(&b.tenant) {
                    *s = Starting::Failed(e.to_string());
                }
            }
        }))
        .await;
    }

    /// `startup`: this is the start-up activation of `binding`, which
    /// yields to any activation that went live while it compiled.
    async fn activate_as(&self, binding: &BindingRecord, startup: bool) -> Result<(), RuntimeError> {
        let actor_settings = self.settings_for(&binding.config)?;
        let loaded = self.preload(&binding.pins).await?;
        let settings = Arc::new(crate::limits::plugin_config(&binding.config));
        let log_limit = self.log_limit(&binding.tenant, &actor_settings);
        // Held across the swap: a start-up activation and a rebind decide
        // under it which one goes live last.
        let mut starting = self.starting.lock().expect("starting lock");
        self.closing()?;
        if startup && starting.get(&binding.tenant) != Some(&Starting::Compiling) {
            tracing::info!(tenant = %binding.tenant, "start-up activation skipped: the tenant was rebound meanwhile");
            return Ok(());
        }
        starting.remove(&binding.tenant);
        let mut actors = self.actors.write().expect("actor map lock");
        // Again under the map lock: `shutdown` sets the flag before it takes
        // this lock, so an actor is either seen by it or never started.
        self.closing()?;
        for kind in ProviderKind::ALL {
            if let Some(old) = actors.remove(&(binding.tenant.clone(), kind))
                && !actors.values().any(|p| p.handle.same_actor(&old.handle))
            {
                self.retired_restarts
                    .fetch_add(old.handle.stats().restarts.swap(0, Ordering::Relaxed), Ordering::Relaxed);
            }
        }
        for (kinds, plugin, component) in loaded {
            let spec = ActorSpec {
                tenant: binding.tenant.clone(),
                kinds: kinds.clone(),
                plugin,
                component,
                settings: settings.clone(),
                socket: binding.socket.clone(),
                log_limit: log_limit.clone(),
            };
            let handle = self.spawn_actor(spec, &actor_settings);
            let provider = Provider {
                handle,
                timeout: actor_settings.call_timeout,
                max_answer_json_bytes: actor_settings.max_answer_json_bytes,
            };
            for kind in kinds {
                actors.insert((binding.tenant.clone(), kind), provider.clone());
            }
        }
        drop(actors);
        drop(starting);
        self.rates.configure(&binding.tenant, actor_settings.rate_per_sec, actor_settings.rate_burst);
        tracing::info!(tenant = %binding.tenant, binding = binding.id, "binding active");
        Ok(())
    }
}
