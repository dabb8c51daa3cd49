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

async fn get_contact(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let p = provider(&state, &caller.tenant, Crm)?;
    cached::one::<_, Contact, _, _>(&state, &caller.tenant, Contacts, "get-contact", &id.clone(), || p.get_contact(id))
        .await
}

async fn get_contacts(
    State(state): State<AppState>,
    caller: TenantCaller,
    Json(req): Json<IdsRequest>,
) -> Result<Response, ApiError> {
    check_ids(&req.ids)?;
    let p = provider(&state, &caller.tenant, Crm)?;
    cached::batch::<_, Contact, _, _>(&state, &caller.tenant, Contacts, "get-contact", "", req.ids, |ids| {
        p.get_contacts(ids)
    })
    .await
}

async fn get_activities(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<ActivitiesQuery>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let limit = activity_limit(q.limit)?;
    let p = provider(&state, &caller.tenant, Crm)?;
    let arg = format!("{id}?limit={limit}");
    cached::one::<_, Vec<Activity>, _, _>(&state, &caller.tenant, Activities, "get-activities", &arg, || async move {
        p.get_activities(id, limit).await.map(ActivityList)
    })
    .await
}

async fn get_activities_batch(
    State(state): State<AppState>,
    caller: TenantCaller,
    Json(req): Json<ActivitiesBatchRequest>,
) -> Result<Response, ApiError> {
    check_ids(&req.customer_ids)?;
    let limit = activity_limit(req.limit)?;
    let p = provider(&state, &caller.tenant, Crm)?;
    let suffix = format!("?limit={limit}");
    cached::batch::<_, Vec<Activity>, _, _>(
        &state,
        &caller.tenant,
        Activities,
        "get-activities",
        &suffix,
        req.customer_ids,
        |ids| async move {
            let found = p.get_activities_batch(ids, limit).await?;
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
