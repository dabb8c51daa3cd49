//! Operator routes under `/admin/v1`: publish and manage plugins, bind
//! tenants, manage API keys, read the audit log. Every route needs the admin
//! token (`Operator` extractor): no token 401, a tenant key 403.

use super::AppState;
use super::admin_model::*;
use super::auth::Operator;
use super::contract::{AdminBodyErrors, AdminErrors, AdminTenantErrors};
use super::extract::{Json as JsonBody, Path, Query, RawBody};
use super::problem::ApiError;
use crate::service::{bind, publish};
use crate::util::new_secret;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use b2c_registry::{BindingRequest, KindRequest, VersionRecord};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The operator routes, each declared by its handler's `#[utoipa::path]`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins))
        .routes(routes!(show_plugin))
        .routes(routes!(publish, show_version))
        .routes(routes!(download))
        .routes(routes!(yank))
        .routes(routes!(unyank))
        .routes(routes!(list_tenants))
        .routes(routes!(bind, show_tenant))
        .routes(routes!(rollback))
        .routes(routes!(create_key, list_keys))
        .routes(routes!(revoke_key))
        .routes(routes!(invalidate_cache))
        .routes(routes!(reset_sync))
        .routes(routes!(audit))
}

#[utoipa::path(get, path = "/admin/v1/plugins", tag = "admin", summary = "List plugins", security(("adminToken" = [])), responses(AdminErrors, (status = 200, description = "Plugins with their versions", body = PluginList)))]
pub async fn list_plugins(State(s): State<AppState>, _op: Operator) -> Result<Json<PluginList>, ApiError> {
    Ok(Json(PluginList::new(s.registry.plugins()?)))
}

#[utoipa::path(get, path = "/admin/v1/plugins/{name}", tag = "admin", summary = "Show a plugin with all versions", security(("adminToken" = [])), params(("name" = String, Path, pattern = "^[a-z]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Plugin name: lowercase letters, digits and '-', starting with a letter, 1 to 64 characters")), responses(AdminErrors, (status = 200, description = "Versions, newest first", body = Plugin), (status = 404, description = "Not published", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn show_plugin(
    State(s): State<AppState>,
    _op: Operator,
    Path(name): Path<String>,
) -> Result<Json<Plugin>, ApiError> {
    let versions = s.registry.versions(&name)?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("plugin {name} is not published")));
    }
    Ok(Json(Plugin { name, versions: versions.iter().map(Version::from).collect() }))
}

fn find_version(s: &AppState, name: &str, version: &str) -> Result<VersionRecord, ApiError> {
    s.registry.version(name, version)?.ok_or_else(|| ApiError::not_found(format!("{name}@{version} is not published")))
}

#[utoipa::path(get, path = "/admin/v1/plugins/{name}/versions/{version}", tag = "admin", summary = "Show one version", security(("adminToken" = [])), params(("name" = String, Path, pattern = "^[a-z]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Plugin name: lowercase letters, digits and '-', starting with a letter, 1 to 64 characters"), ("version" = String, Path, pattern = "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$", description = "Strict semver version (MAJOR.MINOR.PATCH)")), responses(AdminErrors, (status = 200, description = "sha256, size, contract version, exports, imports, compatibleWithHost, yanked", body = Version), (status = 404, description = "Not published", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn show_version(
    State(s): State<AppState>,
    _op: Operator,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Version>, ApiError> {
    Ok(Json(Version::from(&find_version(&s, &name, &version)?)))
}

#[utoipa::path(get, path = "/admin/v1/plugins/{name}/versions/{version}/artifact", tag = "admin", summary = "Download the component", security(("adminToken" = [])), params(("name" = String, Path, pattern = "^[a-z]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Plugin name: lowercase letters, digits and '-', starting with a letter, 1 to 64 characters"), ("version" = String, Path, pattern = "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$", description = "Strict semver version (MAJOR.MINOR.PATCH)")), responses(AdminErrors, (status = 200, description = "The component bytes", content_type = "application/wasm"), (status = 404, description = "Not published", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn download(
    State(s): State<AppState>,
    _op: Operator,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = find_version(&s, &name, &version)?;
    let bytes = s.registry.artifact(&v.sha256)?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/wasm"));
    h.insert("x-content-sha256", HeaderValue::from_str(&v.sha256).expect("hex is a valid header"));
    Ok(res)
}

#[utoipa::path(put, path = "/admin/v1/plugins/{name}/versions/{version}", tag = "admin", summary = "Publish a component", security(("adminToken" = [])), params(("name" = String, Path, pattern = "^[a-z]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Plugin name: lowercase letters, digits and '-', starting with a letter, 1 to 64 characters"), ("version" = String, Path, pattern = "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$", description = "Strict semver version (MAJOR.MINOR.PATCH)"), ("X-Content-Sha256" = Option<String>, Header, description = "Expected sha256 of the body")), request_body(content = super::openapi::WasmBody, content_type = "application/wasm"), responses(AdminBodyErrors, (status = 201, description = "Published", body = Version), (status = 200, description = "Same bytes were already published", body = Version), (status = 409, description = "Other bytes under this version", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid or incompatible component", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn publish(
    State(s): State<AppState>,
    op: Operator,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    publish::check_coordinates(&name, &version)?;
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ctype.split(';').next().map(str::trim) != Some("application/wasm") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("expected Content-Type: application/wasm, got {ctype:?}"),
        ));
    }
    let cap = s.limits.max_upload_bytes;
    // Over the cap is an invalid upload (422) like the other classes, so an
    // operator sees one kind of answer for "this file cannot be published".
    let bytes: Bytes = axum::body::to_bytes(body, cap).await.map_err(|e| {
        let too_large = std::error::Error::source(&e).is_some_and(|src| src.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-component",
                format!("the body is over the upload limit of {cap} bytes"),
            )
        } else {
            ApiError::bad_request(format!("the upload could not be read: {e}"))
        }
    })?;
    // A header that is not even text cannot match a hex digest.
    let claimed_sha256 = headers.get("x-content-sha256").map(|v| v.to_str().unwrap_or(""));
    let upload = publish::Upload {
        name: &name,
        version: &version,
        bytes: &bytes,
        claimed_sha256,
        actor: &op.actor,
        trusted: false,
        conformance: s.limits.require_conformance.then_some(s.limits.conformance_timeout),
    };
    let outcome = publish::publish(&s.registry, &s.runtime, cap, upload).await?;
    let status = match outcome {
        b2c_registry::PublishOutcome::Created(_) => StatusCode::CREATED,
        b2c_registry::PublishOutcome::Unchanged(_) => StatusCode::OK,
    };
    Ok((status, Json(Version::from(outcome.record()))).into_response())
}

#[utoipa::path(post, path = "/admin/v1/plugins/{name}/versions/{version}/yank", tag = "admin", summary = "Yank a version", security(("adminToken" = [])), params(("name" = String, Path, pattern = "^[a-z]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Plugin name: lowercase letters, digits and '-', starting with a letter, 1 to 64 characters"), ("version" = String, Path, pattern = "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$", description = "Strict semver version (MAJOR.MINOR.PATCH)")), responses(AdminErrors, (status = 200, description = "The version, yanked", body = Version), (status = 404, description = "Not published", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn yank(
    State(s): State<AppState>,
    op: Operator,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Version>, ApiError> {
    Ok(Json(Version::from(&s.registry.set_yanked(&name, &version, true, &op.actor)?)))
}

#[utoipa::path(post, path = "/admin/v1/plugins/{name}/versions/{version}/unyank", tag = "admin", summary = "Unyank a version", security(("adminToken" = [])), params(("name" = String, Path, pattern = "^[a-z]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Plugin name: lowercase letters, digits and '-', starting with a letter, 1 to 64 characters"), ("version" = String, Path, pattern = "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$", description = "Strict semver version (MAJOR.MINOR.PATCH)")), responses(AdminErrors, (status = 200, description = "The version", body = Version), (status = 404, description = "Not published", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn unyank(
    State(s): State<AppState>,
    op: Operator,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Version>, ApiError> {
    Ok(Json(Version::from(&s.registry.set_yanked(&name, &version, false, &op.actor)?)))
}

/// `PUT /admin/v1/tenants/{tenant}` body. Config values may be strings,
/// numbers or booleans; plugins read them as strings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindBody {
    #[serde(default)]
    erp: Option<KindRequest>,
    #[serde(default)]
    crm: Option<KindRequest>,
    #[serde(default)]
    pim: Option<KindRequest>,
    #[serde(default)]
    config: BTreeMap<String, Value>,
    #[serde(default)]
    socket: Option<String>,
}

impl BindBody {
    fn into_request(self) -> Result<BindingRequest, ApiError> {
        let mut config = BTreeMap::new();
        for (k, v) in self.config {
            let s = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(ApiError::invalid(format!(
                        "config.{k}: expected a string, number or boolean, got {other}"
                    )));
                }
            };
            config.insert(k, s);
        }
        Ok(BindingRequest { erp: self.erp, crm: self.crm, pim: self.pim, config, socket: self.socket })
    }
}

fn tenant_view(s: &AppState, tenant: &str) -> Result<Json<Tenant>, ApiError> {
    let t = s.registry.tenant(tenant)?.ok_or_else(|| ApiError::not_found(format!("tenant {tenant} does not exist")))?;
    let history = s.registry.binding_history(tenant)?;
    let keys = s.registry.api_keys(tenant)?;
    let sync = s.registry.sync_summary(tenant)?;
    let providers = s
        .runtime
        .providers()
        .into_iter()
        .filter(|p| p.handle.spec().tenant == tenant)
        .map(|p| p.status().into())
        .collect();
    Ok(Json(Tenant {
        providers,
        tenant: t.id,
        binding: t.binding.map(Into::into),
        history: history.into_iter().map(Into::into).collect(),
        api_keys: keys.into_iter().map(Into::into).collect(),
        sync: sync.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(put, path = "/admin/v1/tenants/{tenant}", tag = "admin", summary = "Bind a tenant (resolve, pin, activate)", security(("adminToken" = [])), params(("tenant" = String, Path, pattern = "^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Tenant id: lowercase letters, digits and '-', 1 to 64 characters")), request_body(content = BindRequestDoc, content_type = "application/json"), responses(AdminBodyErrors, (status = 200, description = "Tenant with binding, history and keys", body = Tenant), (status = 404, description = "No version matches", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid request or plugin", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn bind(
    State(s): State<AppState>,
    op: Operator,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<BindBody>,
) -> Result<Json<Tenant>, ApiError> {
    let request = body.into_request()?;
    bind::bind(s.ctx(), &tenant, &request, &op.actor).await?;
    tenant_view(&s, &tenant)
}

#[utoipa::path(get, path = "/admin/v1/tenants/{tenant}", tag = "admin", summary = "Show a tenant", security(("adminToken" = [])), params(("tenant" = String, Path, pattern = "^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Tenant id: lowercase letters, digits and '-', 1 to 64 characters")), responses(AdminTenantErrors, (status = 200, description = "Binding, history and keys", body = Tenant)))]
pub async fn show_tenant(
    State(s): State<AppState>,
    _op: Operator,
    Path(tenant): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    tenant_view(&s, &tenant)
}

#[utoipa::path(get, path = "/admin/v1/tenants", tag = "admin", summary = "List tenants", security(("adminToken" = [])), responses(AdminErrors, (status = 200, description = "Tenants with their current binding", body = TenantList)))]
pub async fn list_tenants(State(s): State<AppState>, _op: Operator) -> Result<Json<TenantList>, ApiError> {
    Ok(Json(TenantList { tenants: s.registry.tenants()?.into_iter().map(Into::into).collect() }))
}

#[utoipa::path(post, path = "/admin/v1/tenants/{tenant}/rollback", tag = "admin", summary = "Return to the previous binding", security(("adminToken" = [])), params(("tenant" = String, Path, pattern = "^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Tenant id: lowercase letters, digits and '-', 1 to 64 characters")), responses(AdminTenantErrors, (status = 200, description = "Tenant after the rollback", body = Tenant), (status = 409, description = "No earlier binding", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn rollback(
    State(s): State<AppState>,
    op: Operator,
    Path(tenant): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    bind::rollback(s.ctx(), &tenant, &op.actor).await?;
    tenant_view(&s, &tenant)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    #[serde(default)]
    label: Option<String>,
}

#[utoipa::path(post, path = "/admin/v1/tenants/{tenant}/api-keys", tag = "admin", summary = "Create an API key (shown once); at most 20 active per tenant", security(("adminToken" = [])), params(("tenant" = String, Path, pattern = "^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Tenant id: lowercase letters, digits and '-', 1 to 64 characters")), responses(AdminBodyErrors, (status = 201, description = "id, tenant, label, key", body = CreatedKey), (status = 404, description = "Unknown tenant", body = super::openapi::Problem, content_type = "application/problem+json"), (status = 409, description = "The tenant has 20 active keys already (conflict)", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn create_key(
    State(s): State<AppState>,
    op: Operator,
    Path(tenant): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    // The body is optional: an empty POST creates a key labelled "api".
    let body: KeyBody = if body.iter().all(u8::is_ascii_whitespace) {
        KeyBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("the body is not a valid key request: {e}")))?
    };
    let label = body.label.unwrap_or_else(|| "api".to_string());
    if label.len() > 100 {
        return Err(ApiError::invalid("label must be at most 100 characters"));
    }
    // The cap (b2c_registry::MAX_ACTIVE_KEYS) is checked in the insert's
    // transaction: over it is a 409.
    let secret = new_secret("b2c");
    let key = s.registry.add_api_key(&tenant, &secret, &label, &op.actor)?;
    s.auth.reload(&s.registry)?;
    Ok((StatusCode::CREATED, Json(CreatedKey { id: key.id, tenant: key.tenant, label: key.label, key: secret }))
        .into_response())
}

#[utoipa::path(get, path = "/admin/v1/tenants/{tenant}/api-keys", tag = "admin", summary = "List API keys (metadata only)", security(("adminToken" = [])), params(("tenant" = String, Path, pattern = "^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Tenant id: lowercase letters, digits and '-', 1 to 64 characters")), responses(AdminTenantErrors, (status = 200, description = "Keys", body = KeyList)))]
pub async fn list_keys(
    State(s): State<AppState>,
    _op: Operator,
    Path(tenant): Path<String>,
) -> Result<Json<KeyList>, ApiError> {
    if s.registry.tenant(&tenant)?.is_none() {
        return Err(ApiError::not_found(format!("tenant {tenant} does not exist")));
    }
    Ok(Json(KeyList { api_keys: s.registry.api_keys(&tenant)?.into_iter().map(Into::into).collect() }))
}

#[utoipa::path(delete, path = "/admin/v1/tenants/{tenant}/api-keys/{key_id}", tag = "admin", summary = "Revoke an API key", security(("adminToken" = [])), params(("tenant" = String, Path, pattern = "^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Tenant id: lowercase letters, digits and '-', 1 to 64 characters"), ("key_id" = String, Path, description = "Key id")), responses(AdminErrors, (status = 200, description = "Revoked", body = RevokedKey), (status = 404, description = "No such active key", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn revoke_key(
    State(s): State<AppState>,
    op: Operator,
    Path((tenant, key_id)): Path<(String, String)>,
) -> Result<Json<RevokedKey>, ApiError> {
    let key = s.registry.revoke_api_key(&tenant, &key_id, &op.actor)?;
    s.auth.reload(&s.registry)?;
    Ok(Json(RevokedKey { id: key.id, tenant: key.tenant, revoked: true }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/admin/v1/audit", tag = "admin", summary = "Newest audit entries", security(("adminToken" = [])), params(("limit" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "Entries to return, newest first (default 100)")), responses(AdminErrors, (status = 200, description = "Entries, newest first", body = AuditList)))]
pub async fn audit(
    State(s): State<AppState>,
    _op: Operator,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid("limit must be 1..=10000"));
    }
    Ok(Json(AuditList { entries: s.registry.audit_log(limit)?.into_iter().map(Into::into).collect() }))
}

/// Drops every cached answer of a tenant.
#[utoipa::path(post, path = "/admin/v1/tenants/{tenant}/cache/invalidate", tag = "admin", summary = "Drop a tenant's cached answers", security(("adminToken" = [])), params(("tenant" = String, Path, pattern = "^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Tenant id: lowercase letters, digits and '-', 1 to 64 characters")), responses(AdminTenantErrors, (status = 200, description = "Invalidated", body = CacheInvalidated)))]
pub async fn invalidate_cache(
    State(s): State<AppState>,
    op: Operator,
    Path(tenant): Path<String>,
) -> Result<Json<CacheInvalidated>, ApiError> {
    if s.registry.tenant(&tenant)?.is_none() {
        return Err(ApiError::not_found(format!("tenant {tenant} does not exist")));
    }
    s.cache.invalidate_tenant(&tenant);
    tracing::info!(%tenant, actor = %op.actor, "cache invalidated");
    Ok(Json(CacheInvalidated { tenant, invalidated: true }))
}

/// Forces a full resync of a tenant: forgets the delta state, so the next
/// sync sends every record again (after an ERP restore). Cached answers are
/// dropped too, since they may describe data the ERP lost.
#[utoipa::path(post, path = "/admin/v1/tenants/{tenant}/sync/reset", tag = "admin", summary = "Force a full resync of a tenant", security(("adminToken" = [])), params(("tenant" = String, Path, pattern = "^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$", description = "Tenant id: lowercase letters, digits and '-', 1 to 64 characters")), responses(AdminTenantErrors, (status = 200, description = "Delta state forgotten: `{tenant, forgotten}`", body = SyncReset)))]
pub async fn reset_sync(
    State(s): State<AppState>,
    op: Operator,
    Path(tenant): Path<String>,
) -> Result<Json<SyncReset>, ApiError> {
    if s.registry.tenant(&tenant)?.is_none() {
        return Err(ApiError::not_found(format!("tenant {tenant} does not exist")));
    }
    let forgotten = s.registry.sync_forget(&tenant, &op.actor)?;
    s.cache.invalidate_tenant(&tenant);
    tracing::info!(%tenant, actor = %op.actor, forgotten, "sync state reset: next sync is a full one");
    Ok(Json(SyncReset { tenant, forgotten }))
}
