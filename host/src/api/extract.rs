//! Extractors whose rejections are problem+json: a malformed body, query or
//! path is the caller's mistake and gets a precise 4xx, never axum's plain
//! text.

use super::problem::ApiError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body (`Content-Type: application/json`).
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

pub fn json_rejection(r: JsonRejection) -> ApiError {
    let status = r.status();
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "expected Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::bad_request(format!("the body is not valid JSON: {}", e.body_text()))
        }
        JsonRejection::JsonDataError(e) => {
            ApiError::invalid(format!("the body does not match the expected shape: {}", e.body_text()))
        }
        other if status == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", other.body_text())
        }
        other => ApiError::bad_request(other.body_text()),
    }
}

/// Query parameters.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|r: QueryRejection| ApiError::invalid(format!("invalid query: {}", r.body_text())))
    }
}

/// Path parameters.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|r: PathRejection| ApiError::bad_request(format!("invalid path: {}", r.body_text())))
    }
}

/// The raw body (size-limited by `DefaultBodyLimit`), for routes that parse
/// it themselves (NDJSON, fingerprints).
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::body::Bytes::from_request(req, state).await.map(RawBody).map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "the body is over the size limit")
            } else {
                ApiError::bad_request(format!("the body could not be read: {}", r.body_text()))
            }
        })
    }
}

/// Largest id a route accepts, in bytes.
pub const MAX_ID_LEN: usize = 256;

/// Validates the ids of a batch-get: at most [`super::MAX_BATCH_IDS`], each
/// 1–256 characters.
pub fn check_ids(ids: &[String]) -> Result<(), ApiError> {
    if ids.len() > super::MAX_BATCH_IDS {
        return Err(ApiError::invalid(format!("at most {} ids per request, got {}", super::MAX_BATCH_IDS, ids.len())));
    }
    if let Some(bad) = ids.iter().position(|id| id.is_empty() || id.len() > MAX_ID_LEN) {
        return Err(ApiError::invalid(format!("ids[{bad}] must be 1 to {MAX_ID_LEN} characters")));
    }
    Ok(())
}

/// Validates one id.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(ApiError::invalid(format!("an id must be 1 to {MAX_ID_LEN} characters")));
    }
    Ok(())
}

/// The `{id}` of a tenant route (`…/{tenant}/…/{id}…`), checked.
pub struct RecordId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RecordId {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((_, id)) = Path::<(String, String)>::from_request_parts(parts, state).await?;
        check_id(&id)?;
        Ok(RecordId(id))
    }
}

/// Which provider kind a route serves, as a type (const generics over
/// enums are not stable).
pub trait Kind {
    const KIND: crate::ProviderKind;
}
/// Marker types for [`TenantProvider`].
pub mod kind {
    pub struct Erp;
    pub struct Crm;
    pub struct Pim;
    impl super::Kind for Erp {
        const KIND: crate::ProviderKind = crate::ProviderKind::Erp;
    }
    impl super::Kind for Crm {
        const KIND: crate::ProviderKind = crate::ProviderKind::Crm;
    }
    impl super::Kind for Pim {
        const KIND: crate::ProviderKind = crate::ProviderKind::Pim;
    }
}

/// The caller's tenant (authenticated by `auth::authenticate` and admitted
/// by `middleware::rate_limit`, the tenant routes' layers) and its provider
/// of kind `K`, or 404 naming the missing binding.
pub struct TenantProvider<K> {
    pub tenant: String,
    pub provider: crate::actor::Provider,
    _kind: std::marker::PhantomData<K>,
}

impl<K: Kind> FromRequestParts<super::AppState> for TenantProvider<K> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &super::AppState) -> Result<Self, ApiError> {
        let caller = super::auth::TenantCaller::from_request_parts(parts, state).await?;
        let provider = super::provider(state, &caller.tenant, K::KIND)?;
        Ok(Self { tenant: caller.tenant, provider, _kind: std::marker::PhantomData })
    }
}
