//! PIM routes (`pim-provider`): product details, categories, catalog.

use super::contract::TenantErrors;
use super::extract::{Query, RecordId, TenantProvider, kind};
use super::model::*;
use super::problem::ApiError;
use super::stream::{self, ndjson};
use super::{AppState, cached};
use crate::actor::Provider;
use crate::cache::DataClass::{Catalog, Categories};
use axum::extract::State;
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this module, each declared by its handler's `#[utoipa::path]`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_product_details))
        .routes(routes!(get_categories))
        .routes(routes!(get_catalog))
        .routes(routes!(stream_catalog))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/pim/products/{id}", tag = "pim", operation_id = "GetProductDetails", summary = "GetProductDetails", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Record id", min_length = 1, max_length = 256)), responses(TenantErrors, (status = 200, body = ProductDetails)))]
pub async fn get_product_details(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Pim>,
    RecordId(id): RecordId,
) -> Result<Response, ApiError> {
    cached::one::<_, ProductDetails, _, _>(&state, &p, &tenant, Catalog, "get-product-details", &id.clone(), || {
        p.get_product_details(id)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/pim/categories", tag = "pim", operation_id = "GetCategories", summary = "GetCategories: parents before children", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id")), responses(TenantErrors, (status = 200, body = Vec<Category>)))]
pub async fn get_categories(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Pim>,
) -> Result<Response, ApiError> {
    let q = p.clone();
    cached::one::<_, Vec<Category>, _, _>(&state, &p, &tenant, Categories, "get-categories", "", || async move {
        q.get_categories().await.map(CategoryList)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/pim/catalog", tag = "pim", operation_id = "GetCatalog", summary = "GetCatalog: one page; pass continuation for the next", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), CatalogQuery), responses(TenantErrors, (status = 200, body = CatalogPage)))]
pub async fn get_catalog(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Pim>,
    Query(q): Query<CatalogQuery>,
) -> Result<Response, ApiError> {
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
    let filter = catalog_filter(&q.category_id, &q.modified_since, &q.search)?;
    let arg = format!("{filter:?}|{page_size}|{:?}", q.continuation);
    let provider = p.clone();
    cached::one::<_, CatalogPage, _, _>(&state, &p, &tenant, Catalog, "get-catalog", &arg, || async move {
        provider.get_catalog(filter, page_size, q.continuation).await
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/pim/catalog/stream", tag = "pim", operation_id = "StreamCatalog", summary = "StreamCatalog (NDJSON)", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), CatalogStreamQuery), responses(TenantErrors, (status = 200, description = "One ProductDetails per line", body = ProductDetails, content_type = "application/x-ndjson")))]
pub async fn stream_catalog(
    TenantProvider { provider: p, .. }: TenantProvider<kind::Pim>,
    Query(q): Query<CatalogStreamQuery>,
) -> Result<Response, ApiError> {
    let filter = catalog_filter(&q.category_id, &q.modified_since, &q.search)?;
    let batch = stream::batch_size(q.batch_size)?;
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
