//! Liveness and readiness.

use super::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::json;
use std::sync::atomic::Ordering;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "The process is up", content_type = "application/json")))]
pub async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// The registry answers and the engine is ready; lists every provider actor.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, description = "Ready; per-tenant provider status", content_type = "application/json"), (status = 503, description = "Not ready")))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, axum::Json<serde_json::Value>) {
    let registry_ok = state.registry.integrity_check().map(|s| s == "ok").unwrap_or(false);
    let providers: Vec<_> = state
        .runtime
        .providers()
        .into_iter()
        .map(|p| {
            let spec = p.handle.spec();
            let stats = p.handle.stats();
            // Every job is bounded by the call timeout; one running past
            // it (plus slack for the discard) means the actor is stuck and
            // the tenant gets no answers, whatever the rest of the host does.
            let busy = stats.busy_for();
            let stuck = busy.is_some_and(|b| b > p.timeout + std::time::Duration::from_secs(1));
            json!({
                "tenant": spec.tenant,
                "kinds": spec.kinds,
                "plugin": spec.plugin,
                "state": if stuck { "stuck" } else if busy.is_some() { "busy" } else { "idle" },
                "busyMs": busy.map(|b| b.as_millis() as u64),
                "queueDepth": p.handle.queue_depth(),
                "calls": stats.calls.load(Ordering::Relaxed),
                "restarts": stats.restarts.load(Ordering::Relaxed),
            })
        })
        .collect();
    let status = if registry_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        axum::Json(json!({
            "status": if registry_ok { "ready" } else { "not-ready" },
            "registry": if registry_ok { "ok" } else { "failing" },
            "engine": "ok",
            "contract": crate::bindings::CONTRACT_VERSION,
            "providers": providers,
        })),
    )
}

/// Prometheus scrape endpoint (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = state.metrics.render(&state.runtime, &state.cache);
    let mut res = body.into_response();
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    res
}
