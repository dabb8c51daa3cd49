//! NDJSON streaming from a plugin cursor (DESIGN key decision 4).
//!
//! The body is pulled: each time hyper wants more bytes, one batch is pulled
//! from the plugin cursor and written as lines (with the next pull already
//! running), so memory stays at three batches whatever the stream's length
//! (one in the connection's write buffer, one being serialized, one being
//! pulled; hyper asks for the next chunk only when its buffer has room),
//! the first record leaves as soon as the first batch is ready,
//! and a client that disconnects stops the pulling (the body is dropped,
//! and with it the cursor guard, which closes the cursor in the plugin).
//!
//! A failure after the first byte cannot change the status code any more,
//! so it ends the stream with one trailing line
//! `{"error": <problem document>}` — the documented stream error shape.

use super::cached::{BoundedWriter, JsonError, too_large, write_json};
use super::problem::ApiError;
use crate::actor::{CallError, Provider};
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::future::BoxFuture;
use serde::Serialize;

/// Default and largest batch pulled from the plugin per `next`.
pub const DEFAULT_BATCH: u32 = 1000;
pub const MAX_BATCH: u32 = 10_000;
/// Size of a stream's first pull (see `ndjson`).
const FIRST_PULL: u32 = 100;
/// Largest serialized batch after which the next one is pulled ahead; after
/// a bigger one the next pull waits until the client has taken it.
const PREFETCH_MAX_BYTES: usize = 4 << 20;

pub fn batch_size(requested: Option<u32>) -> Result<u32, ApiError> {
    match requested {
        None => Ok(DEFAULT_BATCH),
        Some(n) if (1..=MAX_BATCH).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!("batchSize must be 1..={MAX_BATCH}, got {n}"))),
    }
}

/// Closes the plugin cursor when the response body goes away, whether the
/// stream finished or the client hung up.
struct CursorGuard {
    provider: Provider,
    cursor: u64,
}

impl Drop for CursorGuard {
    fn drop(&mut self) {
        let (provider, cursor) = (self.provider.clone(), self.cursor);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = provider.close_cursor(cursor).await;
            });
        }
    }
}

pub type Pull<T> = fn(Provider, u64, u32) -> BoxFuture<'static, Result<Vec<T>, CallError>>;

/// A pull task's outcome. A pull is cancelled only when the host's runtime
/// shuts down under it (the exit after its grace period: a stream that was
/// still open is dropped with it, and its pull task may be cancelled before
/// the stream's connection is): that is the host going away, answered like
/// a closed actor, never as a plugin failure. A panicking pull is a host
/// bug, not the plugin's; it still ends the stream with an error line.
fn joined<W>(r: Result<Result<Vec<W>, CallError>, tokio::task::JoinError>) -> Result<Vec<W>, CallError> {
    match r {
        Ok(r) => r,
        Err(e) if e.is_cancelled() => Err(CallError::Closed),
        Err(e) => Err(CallError::Trap(format!("the stream's pull task failed: {e}"))),
    }
}

/// The trailing line of a stream that failed midway.
pub fn error_line(e: ApiError) -> Bytes {
    let mut line = serde_json::json!({ "error": e.body() }).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// Streams an open cursor as NDJSON, mapping each plugin record with `map`.
///
/// One pull runs ahead: while batch N is serialized and written to the
/// client, batch N+1 is already being produced by the plugin (on its
/// actor), so the plugin and the JSON and HTTP side run on different cores.
/// Memory stays bounded at three batches.
pub fn ndjson<W, T>(provider: Provider, cursor: u64, batch: u32, pull: Pull<W>, map: fn(W) -> T) -> Response
where
    W: Send + 'static,
    T: Serialize + Send + 'static,
{
    type Pending<W> = tokio::task::JoinHandle<Result<Vec<W>, CallError>>;
    struct St<W> {
        guard: CursorGuard,
        pull: Pull<W>,
        ahead: Option<Pending<W>>,
        started: bool,
        done: bool,
        /// Bytes of the last serialized batch.
        last_len: usize,
    }
    impl<W> Drop for St<W> {
        fn drop(&mut self) {
            // A client that went away does not wait for the pull ahead.
            if let Some(h) = self.ahead.take() {
                h.abort();
            }
        }
    }
    fn start<W: Send + 'static>(st: &St<W>, batch: u32) -> Pending<W> {
        tokio::spawn((st.pull)(st.guard.provider.clone(), st.guard.cursor, batch))
    }
    let st =
        St { guard: CursorGuard { provider, cursor }, pull, ahead: None, started: false, done: false, last_len: 0 };
    let body = futures::stream::unfold(st, move |mut st| async move {
        if st.done {
            return None;
        }
        let pending = match st.ahead.take() {
            Some(h) => h,
            // The first pull is small: the first records go out after a
            // fraction of a batch, the rest follow in full batches.
            None if !st.started => start(&st, batch.min(FIRST_PULL)),
            None => start(&st, batch),
        };
        let first = !st.started;
        st.started = true;
        let result = joined(pending.await);
        match result {
            Ok(items) if items.is_empty() => None,
            Ok(items) => {
                // Ask for the next batch now, so the plugin produces it while
                // this one is serialized. Not after the first batch: its
                // bytes leave sooner without the next pull competing for a
                // core. Not after a batch of big records (see below).
                if !first && st.last_len <= PREFETCH_MAX_BYTES {
                    st.ahead = Some(start(&st, batch));
                }
                // Off the async workers, within the JSON limit of one pull.
                let max = st.guard.provider.max_answer_json_bytes;
                let written = tokio::task::spawn_blocking(move || {
                    let mut w = BoundedWriter::new(max);
                    for item in items {
                        write_json(&mut w, &map(item))?;
                        w.buf.push(b'\n');
                    }
                    Ok::<_, JsonError>(w.buf)
                })
                .await;
                let buf = match written {
                    Ok(Ok(buf)) => buf,
                    Ok(Err(JsonError::TooLarge(limit))) => {
                        st.done = true;
                        error_line(too_large(&st.guard.provider, limit).await).to_vec()
                    }
                    Ok(Err(JsonError::Other(_))) | Err(_) => {
                        st.done = true;
                        error_line(ApiError::internal("a record could not be serialized")).to_vec()
                    }
                };
                // Only an empty batch ends a cursor. After a batch over
                // PREFETCH_MAX_BYTES nothing is pulled ahead: the next pull
                // starts when hyper asks for more, which it does once its
                // write buffer has room again, so a slow reader holds one
                // big batch. (The early pull above goes by the previous
                // batch's size: a big batch after small ones has one pull
                // ahead of it, counted in the bound of the module docs.) A
                // pull ahead of a failed batch is aborted when `st` is
                // dropped, right after its error line.
                st.last_len = buf.len();
                if !st.done && st.ahead.is_none() && buf.len() <= PREFETCH_MAX_BYTES {
                    st.ahead = Some(start(&st, batch));
                }
                Some((Ok::<_, std::convert::Infallible>(Bytes::from(buf)), st))
            }
            Err(e) => {
                st.done = true;
                Some((Ok(error_line(e.into())), st))
            }
        }
    });
    let mut res = Response::new(Body::from_stream(body));
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CI run of 63d8bec: the host's exit cancelled a pull task before
    /// the stream's connection ended, and the stream's last line said the
    /// plugin failed and was restarted. It was the host shutting down.
    #[tokio::test]
    async fn a_cancelled_pull_is_the_host_shutting_down_not_a_plugin_failure() {
        let pending = tokio::spawn(std::future::pending::<Result<Vec<u8>, CallError>>());
        pending.abort();
        let e = joined(pending.await).unwrap_err();
        assert!(matches!(e, CallError::Closed), "{e:?}");
        let api: ApiError = e.into();
        assert_eq!(api.body()["type"], "urn:b2connect:problem:shutting-down");

        let panicked = tokio::spawn(async { panic!("a host bug") as Result<Vec<u8>, CallError> });
        assert!(matches!(joined(panicked.await), Err(CallError::Trap(m)) if m.contains("a host bug")));
        let ok = tokio::spawn(async { Ok::<_, CallError>(vec![1u8, 2]) });
        assert_eq!(joined(ok.await).unwrap(), vec![1, 2]);
    }
}
