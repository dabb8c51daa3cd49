//! CRM routes (`crm-provider`): contacts and activities.

use super::contract::{TenantBodyErrors, TenantErrors};
use super::extract::{Json, Query, RecordId, TenantProvider, check_ids, kind};
use super::model::*;
use super::problem::ApiError;
use super::{AppState, cached};
use crate::cache::DataClass::{Activities, Contacts};
use axum::extract::State;
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this module, each declared by its handler's `#[utoipa::path]`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_contact))
        .routes(routes!(get_contacts))
        .routes(routes!(get_activities))
        .routes(routes!(get_activities_batch))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/crm/contacts/{id}", tag = "crm", operation_id = "GetContact", summary = "GetContact", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Record id", min_length = 1, max_length = 256)), responses(TenantErrors, (status = 200, body = Contact)))]
pub async fn get_contact(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Crm>,
    RecordId(id): RecordId,
) -> Result<Response, ApiError> {
    cached::one::<_, Contact, _, _>(&state, &p, &tenant, Contacts, "get-contact", &id.clone(), || p.get_contact(id))
        .await
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/crm/contacts/batch-get", tag = "crm", operation_id = "GetContacts", summary = "GetContacts", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id")), request_body(content = super::openapi::IdsRequestDoc, content_type = "application/json"), responses(TenantBodyErrors, (status = 200, body = BatchGetResponse<Contact>)))]
pub async fn get_contacts(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Crm>,
    Json(req): Json<IdsRequest>,
) -> Result<Response, ApiError> {
    check_ids(&req.ids)?;
    cached::batch::<_, Contact, _, _>(&state, &p, &tenant, Contacts, "get-contact", "", req.ids, |ids| {
        p.get_contacts(ids)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/crm/customers/{id}/activities", tag = "crm", operation_id = "GetActivities", summary = "GetActivities: newest first", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Customer id", min_length = 1, max_length = 256), ActivitiesQuery), responses(TenantErrors, (status = 200, body = Vec<Activity>)))]
pub async fn get_activities(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Crm>,
    RecordId(id): RecordId,
    Query(q): Query<ActivitiesQuery>,
) -> Result<Response, ApiError> {
    let limit = activity_limit(q.limit)?;
    let arg = format!("{id}?limit={limit}");
    let q = p.clone();
    cached::one::<_, Vec<Activity>, _, _>(&state, &p, &tenant, Activities, "get-activities", &arg, || async move {
        q.get_activities(id, limit).await.map(ActivityList)
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/crm/activities/batch-get", tag = "crm", operation_id = "GetActivitiesBatch", summary = "GetActivitiesBatch", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id")), request_body(content = ActivitiesBatchRequest, content_type = "application/json"), responses(TenantBodyErrors, (status = 200, body = BatchGetResponse<Vec<Activity>>)))]
pub async fn get_activities_batch(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Crm>,
    Json(req): Json<ActivitiesBatchRequest>,
) -> Result<Response, ApiError> {
    check_ids(&req.customer_ids)?;
    let limit = activity_limit(req.limit)?;
    let suffix = format!("?limit={limit}");
    let q = p.clone();
    cached::batch::<_, Vec<Activity>, _, _>(
        &state,
        &p,
        &tenant,
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
