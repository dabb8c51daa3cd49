//! Liveness and readiness.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Liveness, readiness and metrics, each declared by its handler's `#[utoipa::path]`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).routes(routes!(metrics))
}

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "The process is up", content_type = "application/json")))]
pub async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// How long `/readyz` waits for a tenant's granted endpoint to accept a
/// connection before calling it unreachable.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(300);

/// Whether `endpoint` accepts a TCP connection within [`PROBE_TIMEOUT`].
async fn reachable(endpoint: &str) -> bool {
    matches!(tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(endpoint)).await, Ok(Ok(_)))
}

/// The registry answers and the engine is ready (the host is ready); lists
/// every provider actor with its own readiness. A tenant is not ready while
/// its plugins compile after a restart (`state: starting`), when they
/// failed to start (`failed`, with the `error`), when its actor is stuck,
/// its circuit breaker is open, or its granted backend endpoint (e.g. the
/// enventa container) does not accept connections; that tenant is named in
/// `notReady`, and the host stays ready for the others.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, description = "Ready; per-tenant provider status", content_type = "application/json"), (status = 503, description = "Not ready; the same document says which check failed", content_type = "application/json")))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, axum::Json<serde_json::Value>) {
    let registry_ok = state.registry.integrity_check().map(|s| s == "ok").unwrap_or(false);
    let providers = state.runtime.providers();
    // Probe each granted endpoint once, all at once: bounded by one timeout.
    let mut endpoints: Vec<String> = providers.iter().filter_map(|p| p.handle.spec().socket.clone()).collect();
    endpoints.sort();
    endpoints.dedup();
    let up: std::collections::HashMap<String, bool> =
        futures::future::join_all(endpoints.into_iter().map(|e| async move {
            let ok = reachable(&e).await;
            (e, ok)
        }))
        .await
        .into_iter()
        .collect();
    let mut not_ready: Vec<String> = Vec::new();
    let providers: Vec<_> = providers
        .into_iter()
        .map(|p| {
            let st = p.status();
            let backend = p
                .handle
                .spec()
                .socket
                .as_ref()
                .map(|e| if up.get(e).copied().unwrap_or(false) { "up" } else { "unreachable" });
            let ready = st.state != "stuck" && !st.breaker_open && backend != Some("unreachable");
            if !ready && !not_ready.contains(&st.tenant) {
                not_ready.push(st.tenant.clone());
            }
            json!({
                "tenant": st.tenant,
                "kinds": st.kinds,
                "plugin": st.plugin,
                "ready": ready,
                "state": st.state,
                "busyMs": st.busy_ms,
                "breaker": if st.breaker_open { "open" } else { "closed" },
                "backend": backend,
                "queueDepth": st.queue_depth,
                "calls": st.calls,
                "restarts": st.restarts,
            })
        })
        .collect();
    // Tenants whose start-up activation is still compiling or failed have
    // no actor yet: not ready, named, the host still ready for the others.
    let mut providers = providers;
    for (tenant, starting) in state.runtime.starting_all() {
        let (st, error) = match starting {
            crate::runtime::Starting::Compiling => ("starting", None),
            crate::runtime::Starting::Failed(why) => ("failed", Some(why)),
        };
        if !not_ready.contains(&tenant) {
            not_ready.push(tenant.clone());
        }
        providers.push(json!({ "tenant": tenant, "ready": false, "state": st, "error": error }));
    }
    let status = if registry_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        axum::Json(json!({
            "status": if registry_ok { "ready" } else { "not-ready" },
            "registry": if registry_ok { "ok" } else { "failing" },
            "engine": "ok",
            "contract": crate::bindings::CONTRACT_VERSION,
            "notReady": not_ready,
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
