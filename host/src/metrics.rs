//! Prometheus metrics (`GET /metrics`, OpenMetrics text).
//!
//! Request counters and latency histograms are recorded by the request
//! middleware in `api/`; values that already live elsewhere (queue depths,
//! restarts, cache counts, socket counters) are read at scrape time, so
//! there is one source of truth for each number.

use crate::cache::ResponseCache;
use crate::runtime::Runtime;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};

/// Requests whose handler panicked since the process started (answered
/// 500 by the API's catch-panic layer); a process-wide count because a
/// panic hook has no handle on the registry.
pub static PANICS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The tenant label of requests whose key does not open their path.
pub const UNAUTHENTICATED: &str = "unauthenticated";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub operation: String,
    pub tenant: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActorLabels {
    pub tenant: String,
    pub kinds: String,
    pub plugin: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub duration: Family<OperationLabels, Histogram>,
    cache_hits: Family<TenantLabels, Gauge>,
    cache_misses: Family<TenantLabels, Gauge>,
    cache_ratio: Family<TenantLabels, FloatGauge>,
    queue_depth: Family<ActorLabels, Gauge>,
    actor_calls: Family<ActorLabels, Gauge>,
    restarts: Gauge,
    actors: Gauge,
    instances: Gauge,
    guest_memory: Gauge,
    socket_connects: Gauge,
    socket_denied: Gauge,
    socket_open: Gauge,
    socket_sent: Gauge,
    socket_received: Gauge,
    log_dropped: Family<TenantLabels, Gauge>,
    cache_bytes: Gauge,
    cache_tenant_bytes: Family<TenantLabels, Gauge>,
    cache_refused: Gauge,
    panics: Gauge,
    failure_log_dropped: Gauge,
    /// Live per-tenant figures (`figures.rs`), fed by [`Metrics::observe`].
    pub figures: crate::figures::Figures,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms … ~3.3 s: local plugin calls are sub-millisecond, remote ERPs
    // take seconds.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        r.register(
            "erp_provider_requests",
            "Tenant API requests by operation, tenant and HTTP status",
            requests.clone(),
        );
        let duration =
            Family::<OperationLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        r.register(
            "erp_provider_request_duration_seconds",
            "Time to response headers of tenant API requests, by operation",
            duration.clone(),
        );
        let cache_hits = Family::<TenantLabels, Gauge>::default();
        r.register("erp_provider_cache_hits", "Response cache hits per tenant (since start)", cache_hits.clone());
        let cache_misses = Family::<TenantLabels, Gauge>::default();
        r.register("erp_provider_cache_misses", "Response cache misses per tenant (since start)", cache_misses.clone());
        let cache_ratio = Family::<TenantLabels, FloatGauge>::default();
        r.register("erp_provider_cache_hit_ratio", "hits / (hits + misses) per tenant", cache_ratio.clone());
        let queue_depth = Family::<ActorLabels, Gauge>::default();
        r.register("erp_provider_queue_depth", "Calls waiting in each tenant actor's queue", queue_depth.clone());
        let actor_calls = Family::<ActorLabels, Gauge>::default();
        r.register("erp_provider_actor_calls", "Calls run by each live tenant actor", actor_calls.clone());
        let restarts = Gauge::default();
        r.register(
            "erp_provider_plugin_restarts",
            "Plugin instances discarded after a trap or timeout",
            restarts.clone(),
        );
        let actors = Gauge::default();
        r.register("erp_provider_actors", "Live tenant actors", actors.clone());
        let instances = Gauge::default();
        r.register("erp_provider_plugin_instances", "Live plugin instances (Stores)", instances.clone());
        let guest_memory = Gauge::default();
        r.register(
            "erp_provider_plugin_memory_bytes",
            "Linear memory held by live plugin instances",
            guest_memory.clone(),
        );
        let socket_connects = Gauge::default();
        r.register("erp_provider_socket_connects", "Plugin socket connections opened", socket_connects.clone());
        let socket_denied = Gauge::default();
        r.register(
            "erp_provider_socket_denied",
            "Plugin socket connects denied (not the granted endpoint)",
            socket_denied.clone(),
        );
        let socket_open = Gauge::default();
        r.register("erp_provider_socket_open", "Plugin socket connections open now", socket_open.clone());
        let socket_sent = Gauge::default();
        r.register("erp_provider_socket_sent_bytes", "Bytes plugins sent through their socket", socket_sent.clone());
        let socket_received = Gauge::default();
        r.register(
            "erp_provider_socket_received_bytes",
            "Bytes plugins received through their socket",
            socket_received.clone(),
        );
        let log_dropped = Family::<TenantLabels, Gauge>::default();
        r.register(
            "erp_provider_plugin_log_dropped",
            "Plugin log records dropped over the tenant's log rate (since start)",
            log_dropped.clone(),
        );
        let cache_bytes = Gauge::default();
        r.register("erp_provider_cache_bytes", "Bytes held by the response cache", cache_bytes.clone());
        let cache_tenant_bytes = Family::<TenantLabels, Gauge>::default();
        r.register(
            "erp_provider_cache_tenant_bytes",
            "Bytes held by each tenant's cached answers",
            cache_tenant_bytes.clone(),
        );
        let cache_refused = Gauge::default();
        r.register(
            "erp_provider_cache_refused",
            "Answers not cached: larger than one entry may be, or the tenant at its share (since start)",
            cache_refused.clone(),
        );
        let panics = Gauge::default();
        r.register(
            "erp_provider_handler_panics",
            "Requests whose handler panicked, answered 500 (since start)",
            panics.clone(),
        );
        let failure_log_dropped = Gauge::default();
        r.register(
            "erp_provider_failure_log_dropped",
            "The host's failed-request and plugin-failure log lines dropped over their host-wide rate (since start)",
            failure_log_dropped.clone(),
        );
        Self {
            failure_log_dropped,
            figures: crate::figures::Figures::new(),
            log_dropped,
            cache_bytes,
            cache_tenant_bytes,
            cache_refused,
            panics,
            registry: r,
            requests,
            duration,
            cache_hits,
            cache_misses,
            cache_ratio,
            queue_depth,
            actor_calls,
            restarts,
            actors,
            instances,
            guest_memory,
            socket_connects,
            socket_denied,
            socket_open,
            socket_sent,
            socket_received,
        }
    }

    /// Records one finished tenant request.
    pub fn observe(&self, operation: &str, tenant: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                operation: operation.to_string(),
                tenant: tenant.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.duration.get_or_create(&OperationLabels { operation: operation.to_string() }).observe(seconds);
        // Only an authenticated tenant gets a window: callers cannot make
        // the host keep entries for names they invent.
        if tenant != UNAUTHENTICATED {
            self.figures.record(tenant, status, std::time::Duration::from_secs_f64(seconds.max(0.0)));
        }
    }

    /// The exposition text, with scrape-time values refreshed.
    pub fn render(&self, runtime: &Runtime, cache: &ResponseCache) -> String {
        for (tenant, c) in cache.counts() {
            let l = TenantLabels { tenant };
            self.cache_hits.get_or_create(&l).set(c.hits as i64);
            self.cache_misses.get_or_create(&l).set(c.misses as i64);
            let total = c.hits + c.misses;
            self.cache_ratio.get_or_create(&l).set(if total == 0 { 0.0 } else { c.hits as f64 / total as f64 });
        }
        self.queue_depth.clear();
        self.actor_calls.clear();
        let providers = runtime.providers();
        for p in &providers {
            let spec = p.handle.spec();
            let l =
                ActorLabels { tenant: spec.tenant.clone(), kinds: spec.kinds_label(), plugin: spec.plugin.to_string() };
            self.queue_depth.get_or_create(&l).set(p.handle.queue_depth() as i64);
            self.actor_calls.get_or_create(&l).set(p.handle.stats().calls.load(Ordering::Relaxed) as i64);
        }
        self.actors.set(providers.len() as i64);
        self.restarts.set(runtime.total_restarts() as i64);
        let g = runtime.engine().gauges();
        self.instances.set(g.instances.load(Ordering::Relaxed));
        self.guest_memory.set(g.memory_bytes.load(Ordering::Relaxed));
        let s = runtime.socket_counters();
        self.socket_connects.set(s.connects.load(Ordering::Relaxed) as i64);
        self.socket_denied.set(s.denied.load(Ordering::Relaxed) as i64);
        self.socket_open.set(s.open.load(Ordering::Relaxed) as i64);
        self.socket_sent.set(s.bytes_sent.load(Ordering::Relaxed) as i64);
        self.socket_received.set(s.bytes_received.load(Ordering::Relaxed) as i64);
        for (tenant, dropped) in runtime.log_dropped() {
            self.log_dropped.get_or_create(&TenantLabels { tenant }).set(dropped as i64);
        }
        self.cache_bytes.set(cache.bytes() as i64);
        for (tenant, bytes) in cache.tenant_bytes() {
            self.cache_tenant_bytes.get_or_create(&TenantLabels { tenant }).set(bytes as i64);
        }
        self.cache_refused.set(cache.refused.load(Ordering::Relaxed) as i64);
        self.panics.set(PANICS.load(Ordering::Relaxed) as i64);
        self.failure_log_dropped.set(crate::failure_log::dropped() as i64);
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
