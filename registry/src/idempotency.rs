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

use crate::store::Registry;
use crate::{Result, now_ms};
use rusqlite::{OptionalExtension, params};

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

impl Registry {
    pub fn idempotency_begin(
        &self,
        tenant: &str,
        operation: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<IdempotencyBegin> {
        let now = now_ms();
        self.write(|tx| {
            tx.execute("DELETE FROM idempotency WHERE created_at < ?1", [now - RETENTION_MS])?;
            // fingerprint, status, body, created_at, omitted
            type Row = (String, Option<u16>, Option<String>, i64, bool);
            let row: Option<Row> = tx
                .query_row(
                    "SELECT fingerprint, status, body, created_at, omitted FROM idempotency WHERE tenant = ?1 AND operation = ?2 AND key = ?3",
                    params![tenant, operation, key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            Ok(match row {
                Some((fp, ..)) if fp != fingerprint => IdempotencyBegin::Mismatch,
                Some((_, Some(status), _, _, true)) => IdempotencyBegin::Omitted { status },
                Some((_, Some(status), Some(body), _, _)) => IdempotencyBegin::Replay { status, body },
                Some((_, _, _, created, _)) if now - created < PENDING_TIMEOUT_MS => IdempotencyBegin::InProgress,
                Some(_) => {
                    tx.execute(
                        "UPDATE idempotency SET created_at = ?4 WHERE tenant = ?1 AND operation = ?2 AND key = ?3",
                        params![tenant, operation, key, now],
                    )?;
                    IdempotencyBegin::New
                }
                None => {
                    tx.execute(
                        "INSERT INTO idempotency (tenant, operation, key, fingerprint, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![tenant, operation, key, fingerprint, now],
                    )?;
                    IdempotencyBegin::New
                }
            })
        })
    }

    /// Records the answer of a request begun with `idempotency_begin`,
    /// within `limits`.
    pub fn idempotency_finish(
        &self,
        tenant: &str,
        operation: &str,
        key: &str,
        status: u16,
        body: &str,
        limits: IdempotencyLimits,
    ) -> Result<IdempotencyStored> {
        self.write(|tx| {
            let held: i64 = tx.query_row(
                "SELECT COALESCE(SUM(body_bytes), 0) FROM idempotency WHERE tenant = ?1",
                [tenant],
                |r| r.get(0),
            )?;
            let fits = body.len() <= limits.record_max_bytes
                && (held as u64).saturating_add(body.len() as u64) <= limits.tenant_max_bytes as u64;
            let (stored_body, bytes, omitted) = if fits { (Some(body), body.len() as i64, false) } else { (None, 0, true) };
            tx.execute(
                "UPDATE idempotency SET status = ?4, body = ?5, body_bytes = ?6, omitted = ?7 WHERE tenant = ?1 AND operation = ?2 AND key = ?3",
                params![tenant, operation, key, status, stored_body, bytes, omitted],
            )?;
            Ok(if fits { IdempotencyStored::Kept } else { IdempotencyStored::Omitted })
        })
    }

    /// Records that the request succeeded with `status` without keeping
    /// its answer (the host could not use it): replays get `Omitted`.
    pub fn idempotency_omit(&self, tenant: &str, operation: &str, key: &str, status: u16) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE idempotency SET status = ?4, body = NULL, body_bytes = 0, omitted = 1 WHERE tenant = ?1 AND operation = ?2 AND key = ?3",
                params![tenant, operation, key, status],
            )?;
            Ok(())
        })
    }

    pub fn idempotency_abort(&self, tenant: &str, operation: &str, key: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM idempotency WHERE tenant = ?1 AND operation = ?2 AND key = ?3 AND status IS NULL",
                params![tenant, operation, key],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

#[cfg(test)]
mod bounds {
    use super::*;

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
        let held: i64 = r
            .conn()
            .query_row("SELECT SUM(length(body)) FROM idempotency WHERE tenant = 't'", [], |x| x.get(0))
            .unwrap();
        assert_eq!(held, 250);
    }
}
