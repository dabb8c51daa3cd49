//! CRM routes (`crm-provider`): contacts and activities.

use super::erp::{check_id, check_ids};
use super::extract::{Json, Path, Query};
use super::model::*;
use super::problem::ApiError;
use super::{AppState, cached, provider};
use crate::ProviderKind::Crm;
use crate::api::auth::TenantCaller;
use crate::cache::DataClass::{Activities, Contacts};
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    let t = "/api/v1/tenants/{tenant}/crm";
    Router::new()
        .route(&format!("{t}/contacts/{{id}}"), get(get_contact))
        .route(&format!("{t}/contacts/batch-get"), post(get_contacts))
        .route(&format!("{t}/customers/{{id}}/activities"), get(get_activities))
        .route(&format!("{t}/activities/batch-get"), post(get_activities_batch))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/crm/contacts/{id}", tag = "crm", summary = "GetContact", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Record id")), responses((status = 200, body = Contact), (status = 404, description = "Unknown id, another tenant, or no binding of this kind", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 502, description = "The plugin failed", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "Overloaded or unavailable (Retry-After)", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 504, description = "The plugin or its backend timed out", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn get_contact(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let p = provider(&state, &caller.tenant, Crm)?;
    cached::one::<_, Contact, _, _>(&state, &p, &caller.tenant, Contacts, "get-contact", &id.clone(), || {
        p.get_contact(id)
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/crm/contacts/batch-get", tag = "crm", summary = "GetContacts", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id")), request_body(content = super::openapi::IdsRequestDoc, content_type = "application/json"), responses((status = 200, body = BatchGetResponse<Contact>), (status = 404, description = "Unknown id, another tenant, or no binding of this kind", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 502, description = "The plugin failed", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "Overloaded or unavailable (Retry-After)", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 504, description = "The plugin or its backend timed out", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn get_contacts(
    State(state): State<AppState>,
    caller: TenantCaller,
    Json(req): Json<IdsRequest>,
) -> Result<Response, ApiError> {
    check_ids(&req.ids)?;
    let p = provider(&state, &caller.tenant, Crm)?;
    cached::batch::<_, Contact, _, _>(&state, &p, &caller.tenant, Contacts, "get-contact", "", req.ids, |ids| {
        p.get_contacts(ids)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/crm/customers/{id}/activities", tag = "crm", summary = "GetActivities: newest first", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Customer id"), ActivitiesQuery), responses((status = 200, body = Vec<Activity>), (status = 404, description = "Unknown id, another tenant, or no binding of this kind", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 502, description = "The plugin failed", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "Overloaded or unavailable (Retry-After)", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 504, description = "The plugin or its backend timed out", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn get_activities(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<ActivitiesQuery>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let limit = activity_limit(q.limit)?;
    let p = provider(&state, &caller.tenant, Crm)?;
    let arg = format!("{id}?limit={limit}");
    let q = p.clone();
    cached::one::<_, Vec<Activity>, _, _>(
        &state,
        &p,
        &caller.tenant,
        Activities,
        "get-activities",
        &arg,
        || async move { q.get_activities(id, limit).await.map(ActivityList) },
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/crm/activities/batch-get", tag = "crm", summary = "GetActivitiesBatch", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id")), request_body(content = ActivitiesBatchRequest, content_type = "application/json"), responses((status = 200, body = BatchGetResponse<Vec<Activity>>), (status = 404, description = "Unknown id, another tenant, or no binding of this kind", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 502, description = "The plugin failed", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "Overloaded or unavailable (Retry-After)", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 504, description = "The plugin or its backend timed out", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn get_activities_batch(
    State(state): State<AppState>,
    caller: TenantCaller,
    Json(req): Json<ActivitiesBatchRequest>,
) -> Result<Response, ApiError> {
    check_ids(&req.customer_ids)?;
    let limit = activity_limit(req.limit)?;
    let p = provider(&state, &caller.tenant, Crm)?;
    let suffix = format!("?limit={limit}");
    let q = p.clone();
    cached::batch::<_, Vec<Activity>, _, _>(
        &state,
        &p,
        &caller.tenant,
        Activities,
        "get-activities",
        &suffix,
        req.customer_ids,
        |ids| async move {
            let found = q.get_activities_batch(ids, limit).await?;
            Ok(found.into_iter().map(|o| o.map(ActivityList)).collect())
        },
    )
    .await
}

/// Newtype so a plugin's activity list converts into the REST list.
pub struct ActivityList(Vec<crate::bindings::types::Activity>);

impl From<ActivityList> for Vec<Activity> {
    fn from(l: ActivityList) -> Self {
        l.0.into_iter().map(Into::into).collect()
    }
}
