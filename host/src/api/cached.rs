//! Read-through use of the response cache from handlers.

use super::AppState;
use super::model::BatchGetResponse;
use super::problem::ApiError;
use crate::actor::CallError;
use crate::cache::DataClass;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;

/// A JSON response from an already-built value.
pub fn json_response(v: &Value) -> Response {
    let mut res = v.to_string().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(format!("serializing a response: {e}")))
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
        return Ok(json_response(&v));
    }
    let v = to_value(&T::from(load().await?))?;
    let res = json_response(&v);
    state.cache.put(tenant, class, op, arg, v);
    Ok(res)
}

/// A batch-get: cached ids are answered from the cache, the rest in one
/// plugin call; the answer keeps request order with per-item `found`.
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
    let mut known: HashMap<String, Option<Value>> = HashMap::new();
    let mut misses = Vec::new();
    for id in &ids {
        if known.contains_key(id) || misses.contains(id) {
            continue;
        }
        match state.cache.get(tenant, class, op, &arg(id)) {
            Some(v) => {
                known.insert(id.clone(), Some((*v).clone()));
            }
            None => misses.push(id.clone()),
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
        for (id, f) in misses.into_iter().zip(found) {
            let v = f.map(|w| to_value(&T::from(w))).transpose()?;
            if let Some(v) = &v {
                state.cache.put(tenant, class, op, &arg(&id), v.clone());
            }
            known.insert(id, v);
        }
    }
    let answer = BatchGetResponse::from_lookups(ids.into_iter().map(|id| {
        let item = known.get(&id).cloned().flatten();
        (id, item)
    }));
    Ok(json_response(&to_value(&answer)?))
}
