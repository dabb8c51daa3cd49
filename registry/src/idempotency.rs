//! Idempotency keys: the first request with a key is executed; a repeat with
//! the same request gets the stored answer, a repeat with another request is
//! refused. Records live in SQLite, so a retry after a host restart is still
//! recognised; they expire after [`RETENTION_MS`].

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
            let row: Option<(String, Option<u16>, Option<String>, i64)> = tx
                .query_row(
                    "SELECT fingerprint, status, body, created_at FROM idempotency WHERE tenant = ?1 AND operation = ?2 AND key = ?3",
                    params![tenant, operation, key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            Ok(match row {
                Some((fp, _, _, _)) if fp != fingerprint => IdempotencyBegin::Mismatch,
                Some((_, Some(status), Some(body), _)) => IdempotencyBegin::Replay { status, body },
                Some((_, _, _, created)) if now - created < PENDING_TIMEOUT_MS => IdempotencyBegin::InProgress,
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

    pub fn idempotency_finish(&self, tenant: &str, operation: &str, key: &str, status: u16, body: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE idempotency SET status = ?4, body = ?5 WHERE tenant = ?1 AND operation = ?2 AND key = ?3",
                params![tenant, operation, key, status, body],
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
        r.idempotency_finish("t", "op", "k", 201, "{\"id\":1}").unwrap();
        assert_eq!(
            r.idempotency_begin("t", "op", "k", "f1").unwrap(),
            IdempotencyBegin::Replay { status: 201, body: "{\"id\":1}".into() }
        );
        r.idempotency_abort("u", "op", "k").unwrap();
        assert_eq!(r.idempotency_begin("u", "op", "k", "f3").unwrap(), IdempotencyBegin::New);
    }
}
