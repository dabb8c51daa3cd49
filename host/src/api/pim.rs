//! PIM routes (`pim-provider`): product details, categories, catalog.

use super::erp::check_id;
use super::extract::{Path, Query};
use super::model::*;
use super::problem::ApiError;
use super::stream::{self, ndjson};
use super::{AppState, cached, provider};
use crate::ProviderKind::Pim;
use crate::actor::Provider;
use crate::api::auth::TenantCaller;
use crate::cache::DataClass::{Catalog, Categories};
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    let t = "/api/v1/tenants/{tenant}/pim";
    Router::new()
        .route(&format!("{t}/products/{{id}}"), get(get_product_details))
        .route(&format!("{t}/categories"), get(get_categories))
        .route(&format!("{t}/catalog"), get(get_catalog))
        .route(&format!("{t}/catalog/stream"), get(stream_catalog))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/pim/products/{id}", tag = "pim", summary = "GetProductDetails", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Record id")), responses((status = 200, body = ProductDetails), (status = 404, description = "Unknown id, another tenant, or no binding of this kind", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 502, description = "The plugin failed", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "Overloaded or unavailable (Retry-After)", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 504, description = "The plugin or its backend timed out", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn get_product_details(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let p = provider(&state, &caller.tenant, Pim)?;
    cached::one::<_, ProductDetails, _, _>(
        &state,
        &p,
        &caller.tenant,
        Catalog,
        "get-product-details",
        &id.clone(),
        || p.get_product_details(id),
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/pim/categories", tag = "pim", summary = "GetCategories: parents before children", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id")), responses((status = 200, body = Vec<Category>), (status = 404, description = "Unknown id, another tenant, or no binding of this kind", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 502, description = "The plugin failed", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "Overloaded or unavailable (Retry-After)", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 504, description = "The plugin or its backend timed out", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn get_categories(State(state): State<AppState>, caller: TenantCaller) -> Result<Response, ApiError> {
    let p = provider(&state, &caller.tenant, Pim)?;
    let q = p.clone();
    cached::one::<_, Vec<Category>, _, _>(&state, &p, &caller.tenant, Categories, "get-categories", "", || async move {
        q.get_categories().await.map(CategoryList)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/pim/catalog", tag = "pim", summary = "GetCatalog: one page; pass continuation for the next", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), CatalogQuery), responses((status = 200, body = CatalogPage), (status = 404, description = "Unknown id, another tenant, or no binding of this kind", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 502, description = "The plugin failed", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "Overloaded or unavailable (Retry-After)", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 504, description = "The plugin or its backend timed out", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn get_catalog(
    State(state): State<AppState>,
    caller: TenantCaller,
    Query(q): Query<CatalogQuery>,
) -> Result<Response, ApiError> {
    if q.batch_size.is_some() {
        return Err(ApiError::invalid("batchSize applies to /pim/catalog/stream; pages use pageSize"));
    }
    let page_size = match q.page_size {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n,
        Some(n) => return Err(ApiError::invalid(format!("pageSize must be 1..=1000, got {n}"))),
    };
    if q.continuation.as_ref().is_some_and(|c| c.is_empty() || c.len() > crate::answers::MAX_CONTINUATION) {
        return Err(ApiError::invalid(format!(
            "continuation must be 1 to {} characters",
            crate::answers::MAX_CONTINUATION
        )));
    }
    let filter = q.filter()?;
    let p = provider(&state, &caller.tenant, Pim)?;
    let arg = format!("{filter:?}|{page_size}|{:?}", q.continuation);
    let provider = p.clone();
    cached::one::<_, CatalogPage, _, _>(&state, &p, &caller.tenant, Catalog, "get-catalog", &arg, || async move {
        provider.get_catalog(filter, page_size, q.continuation).await
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/pim/catalog/stream", tag = "pim", summary = "StreamCatalog (NDJSON)", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), CatalogQuery), responses((status = 200, description = "One ProductDetails per line", body = ProductDetails, content_type = "application/x-ndjson"), (status = 404, description = "Unknown id, another tenant, or no binding of this kind", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 502, description = "The plugin failed", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "Overloaded or unavailable (Retry-After)", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 504, description = "The plugin or its backend timed out", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn stream_catalog(
    State(state): State<AppState>,
    caller: TenantCaller,
    Query(q): Query<CatalogQuery>,
) -> Result<Response, ApiError> {
    if q.page_size.is_some() || q.continuation.is_some() {
        return Err(ApiError::invalid("pageSize and continuation apply to /pim/catalog; streams use batchSize"));
    }
    let filter = q.filter()?;
    let batch = stream::batch_size(q.batch_size)?;
    let p = provider(&state, &caller.tenant, Pim)?;
    let cursor = p.open_catalog(filter).await?;
    Ok(ndjson(
        p,
        cursor,
        batch,
        |p: Provider, c, n| Box::pin(async move { p.next_catalog(c, n).await }),
        ProductDetails::from,
    ))
}

/// Newtype so a plugin's category list converts into the REST list.
pub struct CategoryList(Vec<crate::bindings::types::Category>);

impl From<CategoryList> for Vec<Category> {
    fn from(l: CategoryList) -> Self {
        l.0.into_iter().map(Into::into).collect()
    }
}
