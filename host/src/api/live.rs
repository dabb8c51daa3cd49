//! `GET /admin/v1/stats`: each tenant's live figures in one answer, for
//! `b2c-host top` and dashboards. Request figures come from the sliding
//! window (`figures.rs`), actor figures from the runtime, cache figures
//! from the response cache: one source for each number, read at request
//! time like the Prometheus scrape.

use super::AppState;
use super::auth::Operator;
use super::contract::AdminErrors;
use super::problem::ApiError;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stats))
}

/// One tenant's figures now.
#[derive(Serialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct TenantStats {
    pub tenant: String,
    /// Requests per second over the window.
    pub requests_per_sec: f64,
    /// Latency percentiles over the window, in milliseconds (null without
    /// requests in it); within 19 % of the exact value.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Share of 5xx answers over the window, 0 to 1.
    pub error_rate: f64,
    /// Requests and 5xx answers since the host started.
    pub requests: u64,
    pub errors: u64,
    /// Response-cache hits / (hits + misses) since start; null before the
    /// first cacheable request.
    pub cache_hit_ratio: Option<f64>,
    /// Calls waiting in the tenant's actors.
    pub queue_depth: u64,
    /// Plugin instances discarded after a trap or timeout, current actors.
    pub restarts: u64,
    /// `open` when any of the tenant's actors fails fast, else `closed`;
    /// `-` for a tenant with no live actor.
    pub breaker: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Seconds the windowed figures cover.
    pub window_seconds: u64,
    /// Every tenant with a live actor or a request since start, by id.
    pub tenants: Vec<TenantStats>,
}

#[utoipa::path(get, path = "/admin/v1/stats", tag = "admin", summary = "Live per-tenant figures (b2c-host top)", security(("adminToken" = [])), responses(AdminErrors, (status = 200, description = "Per-tenant request rate, latency, errors, cache, queue, restarts and breaker", body = Stats)))]
pub async fn stats(State(s): State<AppState>, _op: Operator) -> Result<Json<Stats>, ApiError> {
    let mut tenants: BTreeMap<String, TenantStats> = BTreeMap::new();
    for p in s.runtime.providers() {
        let st = p.status();
        let t = tenants.entry(st.tenant.clone()).or_insert_with(|| TenantStats {
            tenant: st.tenant.clone(),
            breaker: "closed".into(),
            ..Default::default()
        });
        if st.breaker_open {
            t.breaker = "open".into();
        }
        t.queue_depth += st.queue_depth as u64;
        t.restarts += st.restarts;
    }
    for f in s.metrics.figures.snapshot() {
        let t = tenants.entry(f.tenant.clone()).or_insert_with(|| TenantStats {
            tenant: f.tenant.clone(),
            breaker: "-".into(),
            ..Default::default()
        });
        t.requests_per_sec = f.requests_per_sec;
        t.p50_ms = f.p50_ms;
        t.p99_ms = f.p99_ms;
        t.error_rate = f.error_rate;
        t.requests = f.total_requests;
        t.errors = f.total_errors;
    }
    for (tenant, c) in s.cache.counts() {
        if let Some(t) = tenants.get_mut(&tenant) {
            let total = c.hits + c.misses;
            t.cache_hit_ratio = (total > 0).then(|| c.hits as f64 / total as f64);
        }
    }
    Ok(Json(Stats { window_seconds: crate::figures::WINDOW_SECS, tenants: tenants.into_values().collect() }))
}
