//! Idempotency keys: the first request with a key is executed; a repeat with
//! the same request gets the stored answer, a repeat with another request is
//! refused. Records live in SQLite, so a retry after a host restart is still
//! recognised; they expire after [`RETENTION_MS`].
//!
//! What is kept is bounded ([`IdempotencyLimits`]): the answer is written
//! by a plugin, so one key must not be able to store a gigabyte. An answer
//! over the record limit, or one that would take its tenant over its byte
//! cap, is not kept; the key still records that the request succeeded, so
//! a replay is refused ([`IdempotencyBegin::Omitted`]) instead of running
//! the request twice.

use crate::{Result, now_ms};

/// How long an idempotency record is kept: 24 hours.
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// A pending record older than this is treated as abandoned (the host died
/// mid-call) and may be taken over.
pub const PENDING_TIMEOUT_MS: i64 = 10 * 60 * 1000;

/// What to do with a request carrying an idempotency key.
#[derive(Debug, PartialEq)]
pub enum IdempotencyBegin {
    /// First use: execute, then call `idempotency_finish` or `_abort`.
    New,
    /// Same key, same request, already answered: send this again.
    Replay { status: u16, body: String },
    /// Same key, different request.
    Mismatch,
    /// Same key, same request, still being executed.
    InProgress,
    /// Same key, same request, answered with `status`, but the answer was
    /// too large to keep: the caller must not retry, nor can it be given
    /// the answer again.
    Omitted { status: u16 },
}

/// Bounds of the stored answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdempotencyLimits {
    /// Largest answer kept, in bytes.
    pub record_max_bytes: usize,
    /// Bytes of answers one tenant may have stored at once.
    pub tenant_max_bytes: usize,
}

impl Default for IdempotencyLimits {
    fn default() -> Self {
        Self { record_max_bytes: 64 << 10, tenant_max_bytes: 64 << 20 }
    }
}

/// Whether `idempotency_finish` kept the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdempotencyStored {
    Kept,
    /// Over the record limit or the tenant's cap: only the outcome is kept.
    Omitted,
}

/// Which record: a key is scoped to its tenant and operation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordKey<'a> {
    pub tenant: &'a str,
    pub operation: &'a str,
    pub key: &'a str,
}

/// What the store holds for one key.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IdempotencyRow {
    pub fingerprint: String,
    /// `None` while the request is being executed.
    pub status: Option<u16>,
    pub body: Option<String>,
    pub created_at: i64,
    /// The request succeeded but its answer was not kept.
    pub omitted: bool,
}

/// What [`decide`] asks the store to write when a request begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BeginWrite {
    Nothing,
    /// No record yet: insert a pending one with the fingerprint.
    InsertPending,
    /// An abandoned pending record: take it over (its clock restarts).
    TakeOver,
}

/// How idempotency records are stored. Each method is one transaction;
/// `begin` reads, decides and writes in one, so two requests with the same
/// key cannot both be told `New`.
pub(crate) trait IdempotencyRows {
    /// Deletes every record created before `expired_before`, reads the
    /// record of `at`, asks `decide`, applies its write (stamped `now`, with
    /// `fingerprint` for a new record) and returns its answer.
    fn idempotency_begin(
        &self,
        at: RecordKey<'_>,
        fingerprint: &str,
        now: i64,
        expired_before: i64,
        decide: &dyn Fn(Option<&IdempotencyRow>) -> (IdempotencyBegin, BeginWrite),
    ) -> Result<IdempotencyBegin>;
    /// Records the answer: the body if `keep(bytes of answers the tenant
    /// holds now)` says so, else only the status, marked omitted. Returns
    /// whether the body was kept.
    fn idempotency_finish(
        &self,
        at: RecordKey<'_>,
        status: u16,
        body: &str,
        keep: &dyn Fn(u64) -> bool,
    ) -> Result<bool>;
    /// Records the status without a body, marked omitted.
    fn idempotency_omit(&self, at: RecordKey<'_>, status: u16) -> Result<()>;
    /// Deletes the record if it is still pending.
    fn idempotency_abort(&self, at: RecordKey<'_>) -> Result<()>;
}

/// The rule of a repeated key, given what is stored.
pub(crate) fn decide(row: Option<&IdempotencyRow>, fingerprint: &str, now: i64) -> (IdempotencyBegin, BeginWrite) {
    let answer = |begin| (begin, BeginWrite::Nothing);
    match row {
        None => (IdempotencyBegin::New, BeginWrite::InsertPending),
        Some(r) if r.fingerprint != fingerprint => answer(IdempotencyBegin::Mismatch),
        Some(IdempotencyRow { status: Some(status), omitted: true, .. }) => {
            answer(IdempotencyBegin::Omitted { status: *status })
        }
        Some(IdempotencyRow { status: Some(status), body: Some(body), .. }) => {
            answer(IdempotencyBegin::Replay { status: *status, body: body.clone() })
        }
        Some(r) if now - r.created_at < PENDING_TIMEOUT_MS => answer(IdempotencyBegin::InProgress),
        Some(_) => (IdempotencyBegin::New, BeginWrite::TakeOver),
    }
}

pub(crate) fn begin(rows: &dyn IdempotencyRows, at: RecordKey<'_>, fingerprint: &str) -> Result<IdempotencyBegin> {
    let now = now_ms();
    rows.idempotency_begin(at, fingerprint, now, now - RETENTION_MS, &|row| decide(row, fingerprint, now))
}

pub(crate) fn finish(
    rows: &dyn IdempotencyRows,
    at: RecordKey<'_>,
    status: u16,
    body: &str,
    limits: IdempotencyLimits,
) -> Result<IdempotencyStored> {
    let fits = |held: u64| {
        body.len() <= limits.record_max_bytes
            && held.saturating_add(body.len() as u64) <= limits.tenant_max_bytes as u64
    };
    let kept = rows.idempotency_finish(at, status, body, &fits)?;
    Ok(if kept { IdempotencyStored::Kept } else { IdempotencyStored::Omitted })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Registry;

    #[test]
    fn begin_replay_mismatch_abort() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        assert_eq!(r.idempotency_begin("t", "op", "k", "f1").unwrap(), IdempotencyBegin::New);
        assert_eq!(r.idempotency_begin("t", "op", "k", "f1").unwrap(), IdempotencyBegin::InProgress);
        assert_eq!(r.idempotency_begin("t", "op", "k", "f2").unwrap(), IdempotencyBegin::Mismatch);
        // Keys are per tenant.
        assert_eq!(r.idempotency_begin("u", "op", "k", "f2").unwrap(), IdempotencyBegin::New);
        r.idempotency_finish("t", "op", "k", 201, "{\"id\":1}", IdempotencyLimits::default()).unwrap();
        assert_eq!(
            r.idempotency_begin("t", "op", "k", "f1").unwrap(),
            IdempotencyBegin::Replay { status: 201, body: "{\"id\":1}".into() }
        );
        r.idempotency_abort("u", "op", "k").unwrap();
        assert_eq!(r.idempotency_begin("u", "op", "k", "f3").unwrap(), IdempotencyBegin::New);
    }
    #[test]
    fn decision_table() {
        let now = 100 * PENDING_TIMEOUT_MS;
        let row = |fp: &str, status: Option<u16>, body: Option<&str>, age: i64, omitted: bool| IdempotencyRow {
            fingerprint: fp.into(),
            status,
            body: body.map(Into::into),
            created_at: now - age,
            omitted,
        };
        let stale = PENDING_TIMEOUT_MS;
        let cases = [
            (None, IdempotencyBegin::New, BeginWrite::InsertPending),
            (Some(row("g", None, None, 0, false)), IdempotencyBegin::Mismatch, BeginWrite::Nothing),
            (Some(row("g", None, None, stale, false)), IdempotencyBegin::Mismatch, BeginWrite::Nothing),
            (Some(row("f", Some(201), None, 0, true)), IdempotencyBegin::Omitted { status: 201 }, BeginWrite::Nothing),
            (
                Some(row("f", Some(201), Some("b"), stale, false)),
                IdempotencyBegin::Replay { status: 201, body: "b".into() },
                BeginWrite::Nothing,
            ),
            (Some(row("f", None, None, stale - 1, false)), IdempotencyBegin::InProgress, BeginWrite::Nothing),
            // The host died mid-call: the next request takes the key over.
            (Some(row("f", None, None, stale, false)), IdempotencyBegin::New, BeginWrite::TakeOver),
        ];
        for (stored, begin, write) in cases {
            assert_eq!(decide(stored.as_ref(), "f", now), (begin, write), "{stored:?}");
        }
    }
}

#[cfg(test)]
mod bounds {
    use super::*;
    use crate::Registry;

    #[test]
    fn answers_over_the_record_or_tenant_limit_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let limits = IdempotencyLimits { record_max_bytes: 100, tenant_max_bytes: 250 };
        let finish = |key: &str, body: &str| {
            assert_eq!(r.idempotency_begin("t", "op", key, "f").unwrap(), IdempotencyBegin::New);
            r.idempotency_finish("t", "op", key, 201, body, limits).unwrap()
        };
        assert_eq!(finish("big", &"x".repeat(101)), IdempotencyStored::Omitted);
        assert_eq!(r.idempotency_begin("t", "op", "big", "f").unwrap(), IdempotencyBegin::Omitted { status: 201 });
        // A different body under the key is still a mismatch.
        assert_eq!(r.idempotency_begin("t", "op", "big", "g").unwrap(), IdempotencyBegin::Mismatch);
        assert_eq!(finish("a", &"a".repeat(100)), IdempotencyStored::Kept);
        assert_eq!(finish("b", &"b".repeat(100)), IdempotencyStored::Kept);
        // 200 held: another 100 would pass the tenant's 250.
        assert_eq!(finish("c", &"c".repeat(100)), IdempotencyStored::Omitted);
        assert_eq!(finish("d", &"d".repeat(50)), IdempotencyStored::Kept);
        assert_eq!(
            r.idempotency_begin("t", "op", "b", "f").unwrap(),
            IdempotencyBegin::Replay { status: 201, body: "b".repeat(100) }
        );
        let db = rusqlite::Connection::open(dir.path().join("registry.sqlite3")).unwrap();
        let held: i64 =
            db.query_row("SELECT SUM(length(body)) FROM idempotency WHERE tenant = 't'", [], |x| x.get(0)).unwrap();
        assert_eq!(held, 250);
    }
}
