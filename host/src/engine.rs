//! The wasmtime engine: configuration (pooling allocator, epoch
//! interruption), the linker with every capability the host grants, and the
//! compile cache.
//!
//! Components are compiled once per digest (DESIGN key decision 6): in
//! memory for the life of the process, and on disk as wasmtime's own
//! serialization, keyed by digest and the engine's compatibility hash, so a
//! restart does not pay Cranelift again. Only files this host wrote are
//! ever deserialized; uploaded bytes always go through the compiler.

use crate::bindings::{crm_provider, erp_provider, lifecycle, pim_provider};
use crate::capabilities::Capabilities;
use crate::sandbox::{CompileSandbox, SandboxError, code_config};
use crate::state::PluginState;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Errors from preparing a component for execution.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the component could not be compiled: {0}")]
    Compile(String),
    #[error("the component needs imports this host does not provide: {0}")]
    Link(String),
    #[error("the component exports none of erp-provider, crm-provider, pim-provider (contract {contract})")]
    NoProvider { contract: &'static str },
    #[error("compilation exceeded its time limit of {0:?}")]
    CompileTimeout(Duration),
    #[error("compilation exceeded its memory limit of {limit_mib} MiB ({detail})")]
    CompileMemory { limit_mib: u64, detail: String },
    #[error("engine set-up failed: {0}")]
    Setup(String),
}

impl From<SandboxError> for EngineError {
    fn from(e: SandboxError) -> Self {
        match e {
            SandboxError::Compile(detail) => EngineError::Compile(detail),
            SandboxError::Timeout(limit) => EngineError::CompileTimeout(limit),
            SandboxError::Memory { limit_mib, detail } => EngineError::CompileMemory { limit_mib, detail },
        }
    }
}

/// Tuning of the engine; every field has a safe default.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Instances (one per tenant × provider kind) the pool has room for.
    pub max_instances: u32,
    /// Linear memory one instance may grow to, in bytes.
    pub max_memory_bytes: usize,
    /// Length of one epoch tick; the CPU budget of a call counts these.
    pub epoch_tick: Duration,
    /// Where compiled components are cached; `None` keeps them in memory only.
    pub compiled_dir: Option<PathBuf>,
    /// Longest a compile may take; a slower one is abandoned (its thread
    /// finishes in the background, its result is dropped and never cached).
    pub compile_timeout: Duration,
    /// Compiles that may run at once; more wait (within the timeout). This
    /// bounds the threads and memory uploads can claim together.
    pub compile_slots: usize,
    /// Where uploads are compiled first, under a memory limit; `None`
    /// compiles them in-process (time limit only), as embedded hosts and
    /// tests do.
    pub compile_sandbox: Option<CompileSandbox>,
    /// Reserve only `max_memory_bytes` of address space per linear memory
    /// instead of wasmtime's 4 GiB: for a host under an address-space limit
    /// (`RLIMIT_AS`), at the price of explicit bounds checks in guest code.
    pub lean_address_space: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            max_instances: 1024,
            max_memory_bytes: 256 * 1024 * 1024,
            epoch_tick: Duration::from_millis(10),
            compiled_dir: None,
            compile_timeout: Duration::from_secs(60),
            compile_slots: 2,
            compile_sandbox: None,
            lean_address_space: false,
        }
    }
}

/// A compiled, linked component and the provider interfaces it exports.
pub struct PluginComponent {
    pub digest: String,
    pub pre: InstancePre<PluginState>,
    pub erp: Option<erp_provider::GuestIndices>,
    pub crm: Option<crm_provider::GuestIndices>,
    pub pim: Option<pim_provider::GuestIndices>,
    /// `lifecycle` (contract 1.1): absent from a 1.0.0 plugin.
    pub lifecycle: Option<lifecycle::GuestIndices>,
}

impl PluginComponent {
    /// Provider kinds this component can serve.
    pub fn kinds(&self) -> Vec<crate::ProviderKind> {
        use crate::ProviderKind::*;
        [(Erp, self.erp.is_some()), (Crm, self.crm.is_some()), (Pim, self.pim.is_some())]
            .into_iter()
            .filter_map(|(k, has)| has.then_some(k))
            .collect()
    }
}

pub struct PluginEngine {
    engine: Engine,
    linker: Linker<PluginState>,
    settings: EngineSettings,
    loaded: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<PluginComponent>>>>>,
    stop_ticker: Arc<std::sync::atomic::AtomicBool>,
    gauges: Arc<crate::state::GuestGauges>,
    compile_slots: Arc<tokio::sync::Semaphore>,
    /// Short hash of the engine's compatibility hash: names compile-cache
    /// files, so another wasmtime or another config never reads them.
    engine_id: String,
    /// Compiles this process ran itself (not cache hits, not the sandbox's).
    compiled_in_process: std::sync::atomic::AtomicU64,
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.stop_ticker.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl PluginEngine {
    pub fn new(settings: EngineSettings) -> Result<Arc<Self>, EngineError> {
        let setup = |e: wasmtime::Error| EngineError::Setup(format!("{e:#}"));
        let mut pool = PoolingAllocationConfig::default();
        let n = settings.max_instances;
        // A wit-bindgen component holds a few core instances (program, WASI
        // adapter shims), one or two memories and several tables.
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(8))
            .total_stacks(n)
            .max_memory_size(settings.max_memory_bytes);
        // Explicit bounds checks replace the guard region in lean mode
        // (shared with the compile sandbox, so both produce the same code).
        let mut config = code_config(settings.lean_address_space.then_some(settings.max_memory_bytes as u64));
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(setup)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(setup)?;
        Capabilities::add_to_linker(&mut linker).map_err(setup)?;

        let stop_ticker = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            // Epochs drive both the CPU budget and async yielding of guests.
            let engine = engine.clone();
            let stop = stop_ticker.clone();
            let tick = settings.epoch_tick;
            std::thread::Builder::new()
                .name("epoch-ticker".into())
                .spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| EngineError::Setup(e.to_string()))?;
        }
        if let Some(dir) = &settings.compiled_dir {
            std::fs::create_dir_all(dir).map_err(|e| EngineError::Setup(format!("{}: {e}", dir.display())))?;
        }
        let engine_id = {
            let mut h = Sha256::new();
            engine.precompile_compatibility_hash().hash(&mut HashWriter(&mut h));
            hex::encode(&h.finalize()[..8])
        };
        Ok(Arc::new(Self {
            compiled_in_process: Default::default(),
            engine_id,
            engine,
            linker,
            loaded: Mutex::new(HashMap::new()),
            stop_ticker,
            gauges: Default::default(),
            compile_slots: Arc::new(tokio::sync::Semaphore::new(settings.compile_slots.max(1))),
            settings,
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The per-instance memory slot of the pool: no instance can exceed it.
    pub fn max_memory_bytes(&self) -> usize {
        self.settings.max_memory_bytes
    }

    /// Removes compile-cache files that are not for a digest in `keep`
    /// (a publish that crashed before its row was written, a plugin of an
    /// older engine) and temp files left by a crash. Run at start-up.
    pub fn sweep_compiled(&self, keep: &std::collections::HashSet<String>) {
        let Some(dir) = &self.settings.compiled_dir else { return };
        for f in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            let current = self.cache_path(name.split('-').next().unwrap_or("")).is_some_and(|p| p == f.path());
            let digest_kept = name.split('-').next().is_some_and(|d| keep.contains(d));
            if !(current && digest_kept) {
                tracing::info!(file = %f.path().display(), "removing stale compile-cache file");
                let _ = std::fs::remove_file(f.path());
            }
        }
    }

    /// Loads an upload (see `load`) after checking, in the sandbox when one
    /// is configured, that it compiles within the memory and time limits;
    /// without a sandbox the in-process compile's time limit applies. The
    /// sandbox run holds a compile slot like any compile.
    pub async fn load_upload(
        self: &Arc<Self>,
        digest: &str,
        bytes: &[u8],
    ) -> Result<Arc<PluginComponent>, EngineError> {
        if let Some(sandbox) = &self.settings.compile_sandbox {
            // The child writes what it compiled into the cache, where
            // `compile` finds it: the host does not compile a second time.
            let cached = self.cache_path(digest);
            {
                // The slot is held for the child only: `load` takes its own.
                let _permit = self.compile_slots.acquire().await.expect("compile slots never close");
                sandbox.check(bytes, self.settings.compile_timeout, cached.as_deref()).await?;
            }
            let loaded = self.load(digest, Arc::new(bytes.to_vec())).await;
            if loaded.is_err()
                && let Some(path) = cached
            {
                // Compiled but refused (no provider export, no link): like an
                // in-process compile, a refused upload leaves no cache file.
                let _ = std::fs::remove_file(path);
            }
            return loaded;
        }
        self.load(digest, Arc::new(bytes.to_vec())).await
    }

    /// Compiles this process ran itself since it started: a publish through
    /// the sandbox adds none (the child's result is used).
    pub fn compiled_in_process(&self) -> u64 {
        self.compiled_in_process.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether no compile is running (abandoned ones included).
    pub fn idle(&self) -> bool {
        self.compile_slots.available_permits() == self.settings.compile_slots.max(1)
    }

    /// Live instances and their memory, over every actor of this engine.
    pub fn gauges(&self) -> &Arc<crate::state::GuestGauges> {
        &self.gauges
    }

    /// Compiles (once per digest), links and inspects a component. `bytes`
    /// must hash to `digest`; callers pass registry artifacts or uploads
    /// already checked by `b2c_registry::inspect`. Compiles run on blocking
    /// threads, at most `compile_slots` at once, each within
    /// `compile_timeout`.
    pub async fn load(
        self: &Arc<Self>,
        digest: &str,
        bytes: Arc<Vec<u8>>,
    ) -> Result<Arc<PluginComponent>, EngineError> {
        let cell = self.loaded.lock().expect("compile cache lock").entry(digest.to_string()).or_default().clone();
        let this = self.clone();
        let key = digest.to_string();
        let limit = self.settings.compile_timeout;
        let result = cell
            .get_or_try_init(|| async move {
                let abandoned = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let work = async {
                    let permit = this.compile_slots.clone().acquire_owned().await.expect("compile slots never close");
                    let (this, abandoned) = (this.clone(), abandoned.clone());
                    tokio::task::spawn_blocking(move || {
                        let _permit = permit;
                        this.prepare(&key, &bytes, &abandoned)
                    })
                    .await
                    .map_err(|e| EngineError::Compile(format!("compile task failed: {e}")))?
                };
                match tokio::time::timeout(limit, work).await {
                    Ok(r) => r,
                    Err(_) => {
                        abandoned.store(true, std::sync::atomic::Ordering::SeqCst);
                        Err(EngineError::CompileTimeout(limit))
                    }
                }
            })
            .await
            .cloned();
        if result.is_err() {
            // Failed digests are not remembered: the map only holds what loads.
            let mut loaded = self.loaded.lock().expect("compile cache lock");
            if loaded.get(digest).is_some_and(|c| !c.initialized()) {
                loaded.remove(digest);
            }
        }
        result
    }

    fn cache_path(&self, digest: &str) -> Option<PathBuf> {
        let dir = self.settings.compiled_dir.as_ref()?;
        Some(dir.join(format!("{digest}-{}.cwasm", self.engine_id)))
    }

    /// The compiled component, from the on-disk cache when this host
    /// compiled it before (`true`), else freshly compiled (`false`).
    fn compile(&self, digest: &str, bytes: &[u8]) -> Result<(Component, bool), EngineError> {
        if let Some(path) = self.cache_path(digest).filter(|p| p.exists()) {
            // SAFETY: the file was written by `Component::serialize` of
            // this host, under a name that includes the engine's
            // compatibility hash, via temp file + rename, in a directory
            // only the host writes, and only for a component that compiled
            // and linked. Uploaded bytes never take this path.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok((c, true)),
                Err(e) => tracing::warn!(path = %path.display(), "ignoring unusable compile cache entry: {e:#}"),
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| EngineError::Compile(format!("{e:#}")))?;
        self.compiled_in_process.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok((component, false))
    }

    fn prepare(
        &self,
        digest: &str,
        bytes: &[u8],
        abandoned: &std::sync::atomic::AtomicBool,
    ) -> Result<Arc<PluginComponent>, EngineError> {
        let started = std::time::Instant::now();
        let (component, cached) = self.compile(digest, bytes)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| EngineError::Link(format!("{e:#}")))?;
        let erp = erp_provider::GuestIndices::new(&pre).ok();
        let crm = crm_provider::GuestIndices::new(&pre).ok();
        let pim = pim_provider::GuestIndices::new(&pre).ok();
        let lifecycle = lifecycle::GuestIndices::new(&pre).ok();
        if erp.is_none() && crm.is_none() && pim.is_none() {
            return Err(EngineError::NoProvider { contract: crate::bindings::CONTRACT_VERSION });
        }
        // Only what compiled, linked, exports a provider and was not given
        // up on is written to the cache: a rejected upload leaves no file.
        if let Some(path) = self.cache_path(digest).filter(|_| !cached) {
            if abandoned.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(EngineError::CompileTimeout(self.settings.compile_timeout));
            }
            if let Err(e) = component
                .serialize()
                .map_err(|e| e.to_string())
                .and_then(|b| b2c_registry::atomic_file::write(&path, &b))
            {
                tracing::warn!(%digest, "could not cache compiled component: {e}");
            }
        }
        let loaded = PluginComponent { digest: digest.to_string(), pre, erp, crm, pim, lifecycle };
        tracing::info!(%digest, kinds = ?loaded.kinds(), lifecycle = loaded.lifecycle.is_some(), ms = started.elapsed().as_millis() as u64, cached, "component ready");
        Ok(Arc::new(loaded))
    }
}

/// Adapts `Hash` output into a SHA-256 state.
struct HashWriter<'a>(&'a mut Sha256);

impl std::hash::Hasher for HashWriter<'_> {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

use std::hash::Hash;
