//! Per-request plumbing: a request id (taken from `X-Request-Id` when sane,
//! generated otherwise, always echoed), a tracing span carrying tenant,
//! operation and request id, and the request metrics (`track`, around
//! every route); the per-tenant rate limit (`rate_limit`, a route layer of
//! the tenant routes inside `auth::authenticate`).

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 12]>()))
}

/// The tenant label: the path's tenant when the caller's key belongs to it,
/// so unauthenticated probing cannot create label values.
fn tenant_label(state: &AppState, req: &Request) -> String {
    let path_tenant = req.uri().path().strip_prefix(super::openapi::TENANT_PREFIX).and_then(|r| r.split('/').next());
    let key = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, k)| k.trim());
    match (path_tenant, key.and_then(|k| state.auth.tenant_for(k))) {
        (Some(p), Some((t, _))) if p == t => t,
        _ => crate::metrics::UNAUTHENTICATED.to_string(),
    }
}

pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let op = route.as_deref().and_then(|r| super::openapi::operation(req.method(), r));
    let tenant = if op.is_some() { tenant_label(&state, &req) } else { String::new() };
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = route.as_deref().unwrap_or("-"),
        tenant = %tenant,
        operation = op.unwrap_or("-"),
    );
    let mut res = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(op) = op {
        state.metrics.observe(op, &tenant, res.status().as_u16(), elapsed);
    }
    span.in_scope(|| tracing::debug!(status = res.status().as_u16(), ms = elapsed * 1000.0, "request done"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// Route layer of the tenant routes, inside `auth::authenticate`: admits
/// the authenticated tenant's request under its rate limit (`rate.rs`), or
/// answers 429 with `Retry-After` before any work (cache included), so a
/// tenant far over its limit costs one map lookup per request.
pub async fn rate_limit(
    State(state): State<AppState>,
    caller: super::auth::TenantCaller,
    req: Request,
    next: Next,
) -> Result<Response, super::problem::ApiError> {
    if let Err(wait) = state.runtime.admit(&caller.tenant) {
        return Err(super::problem::ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            format!("tenant {} is over its request rate limit; retry in {} ms", caller.tenant, wait.as_millis().max(1)),
        )
        .retry_after(wait.as_secs_f64().ceil().max(1.0) as u64));
    }
    Ok(next.run(req).await)
}
