//! The REST surface. Each resource module exposes `routes()`, built from its
//! handlers' declarations; `app` merges them with the shared state,
//! problem+json fallbacks and body limits.
//! Tests drive `app(state)` directly or bind it to 127.0.0.1:0.

pub mod admin;
pub mod admin_model;
pub mod auth;
pub mod cached;
pub mod contract;
pub mod crm;
pub mod erp;
pub mod extract;
pub mod health;
pub mod live;
pub mod middleware;
pub mod model;
pub mod openapi;
pub mod pim;
pub mod problem;
pub mod stream;

use crate::ProviderKind;
use crate::actor::Provider;
use crate::runtime::Runtime;
use auth::Auth;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use b2c_registry::Registry;
use problem::ApiError;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Largest list of ids a batch route accepts.
pub const MAX_BATCH_IDS: usize = 1000;
/// Largest number of records one sync request may carry.
pub const MAX_SYNC_RECORDS: usize = 10_000;
/// Largest number of orders in one batch request.
pub const MAX_BATCH_ORDERS: usize = 1000;
/// Largest JSON body, in bytes.
pub const MAX_JSON_BODY: usize = 16 * 1024 * 1024;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub runtime: Arc<Runtime>,
    pub registry: Arc<Registry>,
    pub auth: Arc<Auth>,
    pub limits: Limits,
    pub cache: Arc<crate::cache::ResponseCache>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    /// What the shared workflows (`service/`) act on.
    pub fn ctx(&self) -> crate::service::Ctx<'_> {
        crate::service::Ctx { registry: &self.registry, runtime: &self.runtime, cache: &self.cache }
    }
}

/// Request limits of the HTTP surface.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest component accepted by publish, in bytes.
    pub max_upload_bytes: usize,
    /// What the idempotency store keeps of order answers.
    pub idempotency: b2c_registry::IdempotencyLimits,
    /// Publish refuses a component that fails the conformance check
    /// (`serve --require-conformance`).
    pub require_conformance: bool,
    /// How long that check may take (`--conformance-timeout-secs`).
    pub conformance_timeout: std::time::Duration,
}

/// The provider for a tenant and kind; 503 while the tenant's plugins
/// compile after a restart (or when they failed to), else 404 naming the
/// missing binding.
pub fn provider(state: &AppState, tenant: &str, kind: ProviderKind) -> Result<Provider, ApiError> {
    use crate::runtime::Starting;
    use axum::http::StatusCode;
    if let Some(p) = state.runtime.provider(tenant, kind) {
        return Ok(p);
    }
    Err(match state.runtime.starting(tenant) {
        Some(Starting::Compiling) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "tenant-starting",
            format!("tenant {tenant} is starting: its plugins are compiling; retry shortly"),
        )
        .retry_after(1),
        // The operator's to mend (rebind); no Retry-After.
        Some(Starting::Failed(why)) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "tenant-unavailable",
            format!("tenant {tenant}'s binding could not be started: {why}"),
        ),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "binding-missing",
            format!("tenant {tenant} has no {kind} provider bound"),
        ),
    })
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this route does not accept that method",
    )
}

/// A panic anywhere in a request's handler becomes a logged 500
/// problem+json, never a silently dropped connection.
fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    crate::metrics::PANICS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    ApiError::internal(format!("a request handler panicked: {what}")).into_response()
}

/// Every route of the host, each declared once by its handler's
/// `#[utoipa::path]`; the OpenAPI document is collected from this same
/// router (`openapi::document`).
pub fn routes() -> OpenApiRouter<AppState> {
    routes_layered(|r| r)
}

/// [`routes`] with `tenant_layers` applied to the tenant routes (ERP, CRM,
/// PIM) only: layers do not change the document, so `app` adds them here
/// and `routes` leaves them out.
fn routes_layered(
    tenant_layers: impl FnOnce(OpenApiRouter<AppState>) -> OpenApiRouter<AppState>,
) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(tenant_layers(erp::routes().merge(crm::routes()).merge(pim::routes())))
        .merge(admin::routes())
        .merge(live::routes())
}

pub fn app(state: AppState) -> Router {
    use axum::middleware::from_fn_with_state;
    // Outermost last: authenticate, then the rate limit, then the handler.
    let (router, _) = routes_layered(|r| {
        r.route_layer(from_fn_with_state(state.clone(), middleware::rate_limit))
            .route_layer(from_fn_with_state(state.clone(), auth::authenticate))
    })
    .split_for_parts();
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::track))
        .with_state(state)
}
