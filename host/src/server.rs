//! `b2c-host serve`: open the registry, settle the embedded default, start
//! the engine and every tenant's actors, then serve HTTP until SIGINT or
//! SIGTERM, letting in-flight requests finish.

use crate::actor::ActorSettings;
use crate::api::{self, AppState, auth::Auth};
use crate::bootstrap::{self, Bootstrap};
use crate::cache::{CacheSettings, ResponseCache};
use crate::capabilities::socket::SocketLimits;
use crate::cli::ServeArgs;
use crate::engine::{EngineError, EngineSettings, PluginEngine};
use crate::metrics::Metrics;
use crate::runtime::{Runtime, RuntimeError};
use b2c_registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("opening the registry in {dir}: {source}")]
    Registry { dir: String, source: b2c_registry::Error },
    #[error("reading the registry: {0}")]
    ReadRegistry(b2c_registry::Error),
    #[error("setting up the embedded default: {0}")]
    Bootstrap(crate::service::ServiceError),
    #[error("starting the engine: {0}")]
    Engine(#[from] EngineError),
    #[error("activating tenant bindings: {0}")]
    Runtime(#[from] RuntimeError),
    #[error("listening on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
}

/// A host ready to serve: state for `api::app` plus start-up facts.
pub struct Host {
    pub state: AppState,
    pub bootstrap: Bootstrap,
    /// The bindings to activate once the host listens; their tenants
    /// answer 503 `tenant-starting` until then.
    pub startup: Vec<b2c_registry::BindingRecord>,
}

impl Host {
    /// Compiles and starts every bound tenant's plugins (from the compile
    /// cache when warm); `serve` runs it in the background once it listens.
    /// Returns the line `serve` prints when it is done.
    pub async fn finish_startup(runtime: Arc<Runtime>, startup: Vec<b2c_registry::BindingRecord>) -> String {
        let started = std::time::Instant::now();
        let tenants = startup.len();
        runtime.finish_startup(startup).await;
        let failed = runtime.starting_all().len();
        let ms = started.elapsed().as_millis() as u64;
        tracing::info!(tenants, failed, ms, "start-up activation finished");
        format!("tenants started: {tenants} ({failed} failed) in {ms} ms")
    }

    /// Everything `serve` does before it listens: cheap (the registry, the
    /// engine, the embedded default on an empty registry); the bound
    /// tenants' compiles are left to [`Host::finish_startup`].
    pub async fn start(args: &ServeArgs) -> Result<Self, ServeError> {
        let dir = args.data_dir.display().to_string();
        let registry = Arc::new(Registry::open(&args.data_dir).map_err(|source| ServeError::Registry { dir, source })?);
        let engine_settings = EngineSettings {
            max_instances: args.max_instances,
            max_memory_bytes: (args.instance_memory_mib * 1024 * 1024) as usize,
            compiled_dir: Some(args.data_dir.join("compiled")),
            lean_address_space: args.lean_address_space,
            compile_timeout: Duration::from_millis(args.compile_timeout_ms),
            compile_sandbox: args.compile_sandbox.as_ref().map(|(exe, prefix)| crate::sandbox::CompileSandbox {
                exe: exe.clone(),
                prefix: prefix.clone(),
                memory_mib: args.compile_memory_mib,
                scratch: args.data_dir.join("compiled"),
                lean_memory_bytes: args.lean_address_space.then_some(args.instance_memory_mib * 1024 * 1024),
            }),
            ..EngineSettings::default()
        };
        let engine = PluginEngine::new(engine_settings)?;
        engine.sweep_compiled(&registry.referenced_digests().map_err(ServeError::ReadRegistry)?);
        let actor_settings = ActorSettings {
            queue_capacity: args.queue_capacity as usize,
            call_timeout: Duration::from_millis(args.call_timeout_ms),
            cpu_budget: Duration::from_millis(args.cpu_budget_ms),
            max_answer_bytes: (args.max_answer_mib << 20) as usize,
            max_answer_json_bytes: (args.max_answer_json_mib << 20) as usize,
            log_per_sec: args.log_per_sec,
            log_burst: args.log_burst,
            max_handles: args.max_handles as usize,
            rate_per_sec: (args.rate_per_sec > 0).then_some(args.rate_per_sec),
            rate_burst: args.rate_burst,
            max_memory_bytes: (args.instance_memory_mib * 1024 * 1024) as usize,
            breaker_threshold: args.breaker_threshold,
            breaker_cooldown: Duration::from_millis(args.breaker_cooldown_ms),
            socket: SocketLimits {
                connect_timeout: Duration::from_millis(args.socket_connect_timeout_ms),
                io_timeout: Duration::from_millis(args.socket_io_timeout_ms),
                max_transfer: args.socket_max_frame_bytes,
                ..SocketLimits::default()
            },
            ..ActorSettings::default()
        };
        let runtime = Arc::new(Runtime::new(engine, registry.clone(), actor_settings));
        // Read only: the bound tenants are activated after the host
        // listens (`Host::finish_startup`), each not-ready until then.
        let startup = runtime.begin_startup()?;
        let limits = api::Limits {
            max_upload_bytes: (args.max_upload_mib * 1024 * 1024) as usize,
            require_conformance: args.require_conformance,
            conformance_timeout: Duration::from_secs(args.conformance_timeout_secs),
            idempotency: b2c_registry::IdempotencyLimits {
                record_max_bytes: (args.idempotency_record_max_kib << 10) as usize,
                tenant_max_bytes: (args.idempotency_tenant_mib << 20) as usize,
            },
        };
        let cache = ResponseCache::new(&CacheSettings {
            master_ttl: Duration::from_secs(args.cache_master_ttl_secs),
            transactional_ttl: Duration::from_secs(args.cache_transactional_ttl_secs),
            max_entries: args.cache_max_entries,
            max_bytes: args.cache_mib << 20,
            tenant_max_bytes: args.cache_tenant_mib << 20,
            entry_max_bytes: args.cache_entry_max_kib << 10,
            ..CacheSettings::default()
        });
        // After activation: on an empty registry the embedded default
        // publishes and binds through the admin API's workflows, which
        // activate the demo tenant themselves.
        let ctx = crate::service::Ctx { registry: &registry, runtime: &runtime, cache: &cache };
        let bootstrap =
            bootstrap::embedded_default(ctx, args.admin_token.clone(), args.demo_key.clone(), !args.no_demo)
                .await
                .map_err(ServeError::Bootstrap)?;
        let auth = Arc::new(Auth::new(&bootstrap.admin_token));
        auth.reload(&registry).map_err(ServeError::ReadRegistry)?;
        let metrics = Arc::new(Metrics::new());
        Ok(Self { state: AppState { runtime, registry, auth, limits, cache, metrics }, bootstrap, startup })
    }
}

fn banner(addr: SocketAddr, b: &Bootstrap) {
    println!("b2c-host listening on http://{addr}");
    if b.seeded {
        println!(
            "embedded default: published mock-erp {} and bound tenant `demo` to it",
            crate::bundled::MOCK_ERP_VERSION
        );
    }
    if let Some(e) = &b.seed_error {
        println!("embedded default NOT set up (the host serves without the demo tenant): {e}");
    }
    if b.admin_token_generated {
        println!("admin token (generated; set B2C_ADMIN_TOKEN to choose one): {}", b.admin_token);
    }
    if let Some(k) = &b.demo_key {
        println!("demo tenant API key (generated; set B2C_DEMO_KEY to keep one across restarts): {k}");
        println!("try: curl -H 'Authorization: Bearer {k}' http://{addr}/api/v1/tenants/demo/erp/products/P00000001");
    } else if b.demo_tenant {
        println!(
            "try: curl -H \"Authorization: Bearer $B2C_DEMO_KEY\" http://{addr}/api/v1/tenants/demo/erp/products/P00000001"
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// `serve` as the `b2c-host` binary runs it: uploads compile in a child of
/// this executable (see `sandbox.rs`).
pub async fn run(mut args: ServeArgs) -> Result<(), ServeError> {
    if args.compile_sandbox.is_none()
        && let Ok(exe) = std::env::current_exe()
    {
        args.compile_sandbox = Some((exe, Vec::new()));
    }
    serve(args).await
}

/// Serves with `args` as given (an embedding binary sets its own sandbox).
pub async fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let host = Host::start(&args).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: args.listen, source })?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    banner(addr, &host.bootstrap);
    // Listening first: a restart with a cold compile cache answers
    // /healthz and /readyz (naming the tenants still starting) at once.
    let runtime = host.state.runtime.clone();
    let actors = host.state.runtime.clone();
    tokio::spawn(async move {
        let line = Host::finish_startup(runtime, host.startup).await;
        println!("{line}");
    });
    let grace = Duration::from_millis(args.shutdown_grace_ms);
    let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
    // On the signal axum closes the listener at once (no new connections)
    // and lets open requests and streams finish; the grace period bounds
    // how long a slow client or an endless stream can hold the exit.
    let server = axum::serve(listener, api::app(host.state)).with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stopping_tx.send(true);
    });
    let served = tokio::select! {
        r = server => r.map_err(ServeError::Serve),
        _ = async {
            while !*stopping.borrow_and_update() {
                if stopping.changed().await.is_err() {
                    return std::future::pending().await;
                }
            }
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "shutdown grace period over; closing the connections still open");
            Ok(())
        }
    };
    // Plugins hear of the exit (`lifecycle.shutdown`: the enventa bridge
    // logs out of the ERP) before the process ends, bounded per actor.
    actors.shutdown(crate::actor::SHUTDOWN_WAIT).await;
    tracing::info!("stopped");
    served
}
