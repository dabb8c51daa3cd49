//! Read-through use of the response cache from handlers.

use super::AppState;
use super::model::BatchGetResponse;
use super::problem::ApiError;
use crate::actor::CallError;
use crate::cache::DataClass;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// A JSON response from serialized JSON.
pub fn json_response(json: String) -> Response {
    let mut res = json.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn to_raw<T: Serialize>(v: &T) -> Result<Arc<RawValue>, ApiError> {
    serde_json::value::to_raw_value(v)
        .map(Arc::from)
        .map_err(|e| ApiError::internal(format!("serializing a response: {e}")))
}

/// One value: from the cache, or loaded, converted and cached. Errors
/// (including not-found) are never cached.
pub async fn one<W, T, F, Fut>(
    state: &AppState,
    tenant: &str,
    class: DataClass,
    op: &'static str,
    arg: &str,
    load: F,
) -> Result<Response, ApiError>
where
    T: Serialize + From<W>,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<W, CallError>>,
{
    if let Some(v) = state.cache.get(tenant, class, op, arg) {
        return Ok(json_response(v.get().to_string()));
    }
    let v = to_raw(&T::from(load().await?))?;
    let res = json_response(v.get().to_string());
    state.cache.put(tenant, class, op, arg, v);
    Ok(res)
}

/// A batch-get: cached ids are answered from the cache, the rest in one
/// plugin call; the answer keeps request order with per-item `found`.
/// Records are serialized once (when loaded) and spliced into the answer.
pub async fn batch<W, T, F, Fut>(
    state: &AppState,
    tenant: &str,
    class: DataClass,
    op: &'static str,
    suffix: &str,
    ids: Vec<String>,
    load: F,
) -> Result<Response, ApiError>
where
    T: Serialize + From<W>,
    F: FnOnce(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<Option<W>>, CallError>>,
{
    let arg = |id: &str| format!("{id}{suffix}");
    let mut known: HashMap<&str, Option<Arc<RawValue>>> = HashMap::with_capacity(ids.len());
    let mut misses = Vec::new();
    for id in &ids {
        if known.contains_key(id.as_str()) {
            continue;
        }
        match state.cache.get(tenant, class, op, &arg(id)) {
            Some(v) => {
                known.insert(id, Some(v));
            }
            None => {
                // Placeholder so a repeated id is asked for once.
                known.insert(id, None);
                misses.push(id.clone());
            }
        }
    }
    if !misses.is_empty() {
        let found = load(misses.clone()).await?;
        if found.len() != misses.len() {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                "provider-error",
                format!("the plugin answered {} entries for {} ids", found.len(), misses.len()),
            ));
        }
        for (id, f) in misses.iter().zip(found) {
            if let Some(w) = f {
                let v = to_raw(&T::from(w))?;
                state.cache.put(tenant, class, op, &arg(id), v.clone());
                known.insert(id, Some(v));
            }
        }
    }
    let answer = BatchGetResponse::from_lookups(ids.iter().map(|id| {
        let item: Option<&RawValue> = known.get(id.as_str()).and_then(|v| v.as_deref());
        (id.clone(), item)
    }));
    let json =
        serde_json::to_string(&answer).map_err(|e| ApiError::internal(format!("serializing a response: {e}")))?;
    Ok(json_response(json))
}
