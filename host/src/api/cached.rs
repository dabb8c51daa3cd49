//! Read-through use of the response cache from handlers, and the one way a
//! plugin's answer becomes JSON: [`answer_json`].
//!
//! A plugin decides how big its answer is. The lifted answer is already
//! bounded (hostcall fuel, `limits.maxAnswerMib`); its JSON can still be up
//! to 6x larger (every control character becomes `\u0001`). So answers are
//! serialized on the blocking pool, never on an async worker, into a writer
//! that stops at `limits.maxAnswerJsonMib`: an answer over it is a 502 with
//! a short detail, and the instance that produced it is discarded.

use super::AppState;
use super::problem::ApiError;
use crate::actor::{CallError, Provider};
use crate::cache::DataClass;
use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;

/// A JSON response from serialized JSON (shared bytes: a cache hit is not
/// copied).
pub fn json_response(json: Bytes) -> Response {
    let mut res = Response::new(Body::from(json));
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// A `Vec` that refuses to grow past `max` bytes.
pub struct BoundedWriter {
    pub buf: Vec<u8>,
    max: usize,
}

/// The error [`BoundedWriter`] stops with.
#[derive(Debug)]
struct OverLimit;

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("over the answer limit")
    }
}

impl std::error::Error for OverLimit {}

impl BoundedWriter {
    pub fn new(max: usize) -> Self {
        Self { buf: Vec::new(), max }
    }
}

impl std::io::Write for BoundedWriter {
    #[inline]
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.write_all(b).map(|()| b.len())
    }
    /// serde_json writes every token with `write_all`; the default one
    /// loops over `write` and was a visible share of a stream's CPU.
    #[inline]
    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        if self.buf.len() + b.len() > self.max {
            return Err(std::io::Error::other(OverLimit));
        }
        self.buf.extend_from_slice(b);
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why serializing an answer failed.
pub enum JsonError {
    TooLarge(usize),
    Other(String),
}

/// Writes `value` as JSON into `w`, mapping the writer's limit.
pub fn write_json<T: Serialize>(w: &mut BoundedWriter, value: &T) -> Result<(), JsonError> {
    serde_json::to_writer(&mut *w, value)
        .map_err(|e| if e.is_io() { JsonError::TooLarge(w.max) } else { JsonError::Other(e.to_string()) })
}

/// The problem for an answer over the JSON limit, after discarding the
/// instance that produced it.
pub async fn too_large(p: &Provider, limit: usize) -> ApiError {
    let why = format!(
        "the plugin's answer exceeds {} MiB of JSON (limits.maxAnswerJsonMib); the instance was discarded",
        limit >> 20
    );
    p.discard_instance(why.clone()).await;
    CallError::AnswerTooLarge(why).into()
}

/// Runs serialization `work` on the blocking pool. Over the JSON limit the
/// instance of `p` that produced the answer is discarded (`too_large`);
/// `what` names the work in an internal error.
async fn off_workers<R: Send + 'static>(
    p: &Provider,
    what: &str,
    work: impl FnOnce() -> Result<R, JsonError> + Send + 'static,
) -> Result<R, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(JsonError::TooLarge(limit))) => Err(too_large(p, limit).await),
        Ok(Err(JsonError::Other(e))) => Err(ApiError::internal(format!("{what}: {e}"))),
        Err(e) => Err(ApiError::internal(format!("{what}: {e}"))),
    }
}

/// Serializes a plugin's answer off the async workers, within `p`'s JSON
/// limit; `f` builds the REST shape from the plugin's answer (on the same
/// blocking thread).
pub async fn answer_json<W, T>(p: &Provider, answer: W, f: fn(W) -> T) -> Result<Bytes, ApiError>
where
    W: Send + 'static,
    T: Serialize + 'static,
{
    let max = p.max_answer_json_bytes;
    off_workers(p, "serializing an answer", move || {
        let mut w = BoundedWriter::new(max);
        write_json(&mut w, &f(answer)).map(|()| Bytes::from(w.buf))
    })
    .await
}

/// One value: from the cache, or loaded, converted and cached. Errors
/// (including not-found) are never cached.
pub async fn one<W, T, F, Fut>(
    state: &AppState,
    p: &Provider,
    tenant: &str,
    class: DataClass,
    op: &'static str,
    arg: &str,
    load: F,
) -> Result<Response, ApiError>
where
    W: Send + 'static,
    T: Serialize + From<W> + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<W, CallError>>,
{
    if let Some(v) = state.cache.get(tenant, class, op, arg) {
        return Ok(json_response(v));
    }
    let v = answer_json(p, load().await?, T::from).await?;
    state.cache.put(tenant, class, op, arg, v.clone());
    Ok(json_response(v))
}

/// A batch-get: cached ids are answered from the cache, the rest in one
/// plugin call; the answer keeps request order with per-item `found`
/// (`BatchGetResponse` in the model). Records are serialized once (when
/// loaded) and spliced into the answer, within the JSON limit as a whole.
#[allow(clippy::too_many_arguments)]
pub async fn batch<W, T, F, Fut>(
    state: &AppState,
    p: &Provider,
    tenant: &str,
    class: DataClass,
    op: &'static str,
    suffix: &str,
    ids: Vec<String>,
    load: F,
) -> Result<Response, ApiError>
where
    W: Send + 'static,
    T: Serialize + From<W> + 'static,
    F: FnOnce(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<Option<W>>, CallError>>,
{
    let arg = |id: &str| format!("{id}{suffix}");
    let mut known: HashMap<String, Option<Bytes>> = HashMap::with_capacity(ids.len());
    let mut misses = Vec::new();
    for id in &ids {
        if known.contains_key(id.as_str()) {
            continue;
        }
        match state.cache.get(tenant, class, op, &arg(id)) {
            Some(v) => {
                known.insert(id.clone(), Some(v));
            }
            None => {
                // Placeholder so a repeated id is asked for once.
                known.insert(id.clone(), None);
                misses.push(id.clone());
            }
        }
    }
    let mut loaded: Vec<Option<Bytes>> = Vec::new();
    if !misses.is_empty() {
        // The actor checked the answer against the contract: same length
        // and order as `misses`, each item the requested id or none.
        let found = load(misses.clone()).await?;
        loaded = answer_json_each(p, found, T::from).await?;
        for (id, v) in misses.iter().zip(&loaded) {
            if let Some(v) = v {
                state.cache.put(tenant, class, op, &arg(id), v.clone());
            }
        }
    }
    for (id, v) in misses.into_iter().zip(loaded) {
        known.insert(id, v);
    }
    let max = p.max_answer_json_bytes;
    // Cached parts count too, but only a plugin's answer can make the whole
    // too large: the limit is the plugin's.
    let json = off_workers(p, "building a batch answer", move || splice(&ids, &known, max)).await?;
    Ok(json_response(json))
}

/// Each item of a batch serialized on its own (to be cached per id), all
/// together within the JSON limit.
async fn answer_json_each<W, T>(
    p: &Provider,
    found: Vec<Option<W>>,
    f: fn(W) -> T,
) -> Result<Vec<Option<Bytes>>, ApiError>
where
    W: Send + 'static,
    T: Serialize + 'static,
{
    let max = p.max_answer_json_bytes;
    off_workers(p, "serializing an answer", move || {
        let mut total = 0usize;
        let mut out = Vec::with_capacity(found.len());
        for item in found {
            match item {
                None => out.push(None),
                Some(w) => {
                    let mut wr = BoundedWriter::new(max - total);
                    write_json(&mut wr, &f(w)).map_err(|e| match e {
                        JsonError::TooLarge(_) => JsonError::TooLarge(max),
                        e => e,
                    })?;
                    total += wr.buf.len();
                    out.push(Some(Bytes::from(wr.buf)));
                }
            }
        }
        Ok(out)
    })
    .await
}

/// `{"items":[{"id":…,"found":true,"item":…}|{"id":…,"found":false}…],"found":n,"missing":m}`
/// with each item's cached JSON copied in as it is.
fn splice(ids: &[String], known: &HashMap<String, Option<Bytes>>, max: usize) -> Result<Bytes, JsonError> {
    use std::io::Write;
    let mut w = BoundedWriter::new(max);
    let io = |_| JsonError::TooLarge(max);
    let mut found = 0usize;
    w.write_all(b"{\"items\":[").map_err(io)?;
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            w.write_all(b",").map_err(io)?;
        }
        w.write_all(b"{\"id\":").map_err(io)?;
        write_json(&mut w, id)?;
        match known.get(id).and_then(|v| v.as_ref()) {
            Some(item) => {
                found += 1;
                w.write_all(b",\"found\":true,\"item\":").map_err(io)?;
                w.write_all(item).map_err(io)?;
                w.write_all(b"}").map_err(io)?;
            }
            None => w.write_all(b",\"found\":false}").map_err(io)?,
        }
    }
    write!(w, "],\"found\":{found},\"missing\":{}}}", ids.len() - found).map_err(io)?;
    Ok(Bytes::from(w.buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spliced_batches_match_the_model() {
        let ids: Vec<String> = ["A", "B\"q", "A"].iter().map(|s| s.to_string()).collect();
        let mut known = HashMap::new();
        known.insert("A".to_string(), Some(Bytes::from_static(br#"{"id":"A","n":1}"#)));
        known.insert("B\"q".to_string(), None);
        let json = splice(&ids, &known, 1 << 20).ok().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"items": [
                {"id": "A", "found": true, "item": {"id": "A", "n": 1}},
                {"id": "B\"q", "found": false},
                {"id": "A", "found": true, "item": {"id": "A", "n": 1}},
            ], "found": 2, "missing": 1})
        );
        assert!(matches!(splice(&ids, &known, 40), Err(JsonError::TooLarge(40))));
    }

    #[test]
    fn the_bounded_writer_stops_at_its_limit() {
        let escaped = "\u{1}".repeat(1000); // 6 000 bytes of JSON
        let mut w = BoundedWriter::new(5_999);
        assert!(matches!(write_json(&mut w, &escaped), Err(JsonError::TooLarge(5_999))));
        let mut w = BoundedWriter::new(6_002);
        assert!(write_json(&mut w, &escaped).is_ok());
        assert_eq!(w.buf.len(), 6_002);
    }
}
