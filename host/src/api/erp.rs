//! ERP routes (`erp-provider`): products, customers, orders, sync.

use super::extract::{Json, Path, Query};
use super::model::{BatchGetResponse, IdsRequest, Product, ProductStreamQuery};
use super::problem::ApiError;
use super::stream::{self, ndjson};
use super::{AppState, MAX_BATCH_IDS, provider};
use crate::ProviderKind;
use crate::actor::Provider;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tenants/{tenant}/erp/products/{id}", get(get_product))
        .route("/api/v1/tenants/{tenant}/erp/products/batch-get", post(get_products))
        .route("/api/v1/tenants/{tenant}/erp/products/stream", get(stream_products))
}

fn check_ids(ids: &[String]) -> Result<(), ApiError> {
    if ids.len() > MAX_BATCH_IDS {
        return Err(ApiError::invalid(format!("at most {MAX_BATCH_IDS} ids per request, got {}", ids.len())));
    }
    if let Some(bad) = ids.iter().position(|id| id.is_empty() || id.len() > 256) {
        return Err(ApiError::invalid(format!("ids[{bad}] must be 1 to 256 characters")));
    }
    Ok(())
}

async fn get_product(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    caller: super::auth::TenantCaller,
) -> Result<axum::Json<Product>, ApiError> {
    let _ = caller;
    let p = provider(&state, &tenant, ProviderKind::Erp)?;
    Ok(axum::Json(p.get_product(id).await?.into()))
}

async fn get_products(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    _caller: super::auth::TenantCaller,
    Json(req): Json<IdsRequest>,
) -> Result<axum::Json<BatchGetResponse<Product>>, ApiError> {
    check_ids(&req.ids)?;
    let p = provider(&state, &tenant, ProviderKind::Erp)?;
    let found = p.get_products(req.ids.clone()).await?;
    Ok(axum::Json(BatchGetResponse::new(req.ids, found)?))
}

async fn stream_products(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    _caller: super::auth::TenantCaller,
    Query(q): Query<ProductStreamQuery>,
) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    let batch = stream::batch_size(q.batch_size)?;
    let p = provider(&state, &tenant, ProviderKind::Erp)?;
    let cursor = p.open_products(filter).await?;
    Ok(ndjson(
        p,
        cursor,
        batch,
        |p: Provider, c, n| Box::pin(async move { p.next_products(c, n).await }),
        Product::from,
    ))
}
