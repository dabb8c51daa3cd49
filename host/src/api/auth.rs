//! Who is calling: a tenant (by API key) or an operator (by admin token).
//!
//! Keys are stored hashed in the registry; the host keeps the active hashes
//! in memory and reloads them on every key change, so authenticating a
//! request costs one SHA-256 and a map lookup, not a database query.
//! A tenant key only opens its own tenant's paths: any other tenant's path
//! answers 404, so a caller cannot learn which tenants exist.

use super::AppState;
use super::problem::ApiError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use b2c_registry::Registry;
use std::collections::HashMap;
use std::sync::RwLock;

fn sha256_hex(s: &str) -> String {
    crate::util::sha256_hex(s.as_bytes())
}

pub struct Auth {
    admin_token_hash: String,
    /// sha256(key) → (tenant, key id).
    keys: RwLock<HashMap<String, (String, String)>>,
}

impl Auth {
    pub fn new(admin_token: &str) -> Self {
        Self { admin_token_hash: sha256_hex(admin_token), keys: RwLock::new(HashMap::new()) }
    }

    /// Re-reads the active keys from the registry.
    pub fn reload(&self, registry: &Registry) -> Result<(), b2c_registry::Error> {
        let map = registry.active_key_hashes()?.into_iter().map(|(h, t, id)| (h, (t, id))).collect();
        *self.keys.write().expect("auth lock") = map;
        Ok(())
    }

    pub fn is_admin(&self, token: &str) -> bool {
        // Compare hashes: constant-length, and the token itself is not kept.
        sha256_hex(token) == self.admin_token_hash
    }

    /// (tenant, key id) of an active key.
    pub fn tenant_for(&self, key: &str) -> Option<(String, String)> {
        self.keys.read().expect("auth lock").get(&sha256_hex(key)).cloned()
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::unauthorized(detail.to_string())
}

/// A request authenticated as the tenant named in its path, put in the
/// request's extensions by [`authenticate`].
#[derive(Clone, Debug)]
pub struct TenantCaller {
    pub tenant: String,
    pub key_id: String,
}

/// The caller of a tenant route: the key's tenant must be the path's.
async fn tenant_caller(parts: &mut Parts, state: &AppState) -> Result<TenantCaller, ApiError> {
    let key = bearer(parts)
        .ok_or_else(|| unauthorized("missing bearer token: send Authorization: Bearer <tenant API key>"))?;
    let (tenant, key_id) =
        state.auth.tenant_for(key).ok_or_else(|| unauthorized("the API key is not valid or has been revoked"))?;
    let path: HashMap<String, String> =
        axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|p| p.0)
            .map_err(|r| ApiError::bad_request(format!("invalid path: {}", r.body_text())))?;
    match path.get("tenant") {
        Some(t) if *t == tenant => Ok(TenantCaller { tenant, key_id }),
        // Same answer as for a tenant that does not exist.
        _ => Err(ApiError::not_found("no such resource")),
    }
}

/// Route layer of the tenant routes: authenticates the caller (401, or 404
/// for another tenant's path) before anything else runs, and hands the
/// [`TenantCaller`] on in the request's extensions.
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Result<Response, ApiError> {
    let (mut parts, body) = req.into_parts();
    let caller = tenant_caller(&mut parts, &state).await?;
    parts.extensions.insert(caller);
    Ok(next.run(Request::from_parts(parts, body)).await)
}

impl<S: Send + Sync> FromRequestParts<S> for TenantCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // Only a route without the `authenticate` layer gets here without
        // one: a wiring mistake of the host, not of the caller.
        parts.extensions.get::<TenantCaller>().cloned().ok_or_else(|| {
            ApiError::internal("a tenant route is served without the authenticate layer (api::routes_layered)")
        })
    }
}

/// A request carrying the admin token.
pub struct Operator {
    /// Who acted, for the audit log (not the token itself).
    pub actor: String,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .ok_or_else(|| unauthorized("missing bearer token: send Authorization: Bearer <admin token>"))?;
        if state.auth.is_admin(token) {
            return Ok(Operator { actor: format!("admin:{}", &sha256_hex(token)[..8]) });
        }
        if state.auth.tenant_for(token).is_some() {
            return Err(ApiError::forbidden("a tenant API key cannot use operator routes"));
        }
        Err(unauthorized("the admin token is not valid"))
    }
}
