//! Idempotency records in SQLite; `body_bytes` keeps the per-tenant sum of
//! kept answers cheap.

use super::Sqlite;
use crate::Result;
use crate::idempotency::{BeginWrite, IdempotencyBegin, IdempotencyRow, IdempotencyRows, RecordKey};
use rusqlite::{OptionalExtension, params};

impl IdempotencyRows for Sqlite {
    fn idempotency_begin(
        &self,
        at: RecordKey<'_>,
        fingerprint: &str,
        now: i64,
        expired_before: i64,
        decide: &dyn Fn(Option<&IdempotencyRow>) -> (IdempotencyBegin, BeginWrite),
    ) -> Result<IdempotencyBegin> {
        self.write(|tx| {
            tx.execute("DELETE FROM idempotency WHERE created_at < ?1", [expired_before])?;
            let row = tx
                .query_row(
                    "SELECT fingerprint, status, body, created_at, omitted FROM idempotency WHERE tenant = ?1 AND operation = ?2 AND key = ?3",
                    params![at.tenant, at.operation, at.key],
                    |r| {
                        Ok(IdempotencyRow {
                            fingerprint: r.get(0)?,
                            status: r.get(1)?,
                            body: r.get(2)?,
                            created_at: r.get(3)?,
                            omitted: r.get(4)?,
                        })
                    },
                )
                .optional()?;
            let (begin, write) = decide(row.as_ref());
            match write {
                BeginWrite::Nothing => {}
                BeginWrite::InsertPending => {
                    tx.execute(
                        "INSERT INTO idempotency (tenant, operation, key, fingerprint, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![at.tenant, at.operation, at.key, fingerprint, now],
                    )?;
                }
                BeginWrite::TakeOver => {
                    tx.execute(
                        "UPDATE idempotency SET created_at = ?4 WHERE tenant = ?1 AND operation = ?2 AND key = ?3",
                        params![at.tenant, at.operation, at.key, now],
                    )?;
                }
            }
            Ok(begin)
        })
    }

    fn idempotency_finish(
        &self,
        at: RecordKey<'_>,
        status: u16,
        body: &str,
        keep: &dyn Fn(u64) -> bool,
    ) -> Result<bool> {
        self.write(|tx| {
            let held: i64 = tx.query_row(
                "SELECT COALESCE(SUM(body_bytes), 0) FROM idempotency WHERE tenant = ?1",
                [at.tenant],
                |r| r.get(0),
            )?;
            let kept = keep(held as u64);
            let (stored_body, bytes) = if kept { (Some(body), body.len() as i64) } else { (None, 0) };
            tx.execute(
                "UPDATE idempotency SET status = ?4, body = ?5, body_bytes = ?6, omitted = ?7 WHERE tenant = ?1 AND operation = ?2 AND key = ?3",
                params![at.tenant, at.operation, at.key, status, stored_body, bytes, !kept],
            )?;
            Ok(kept)
        })
    }

    fn idempotency_omit(&self, at: RecordKey<'_>, status: u16) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE idempotency SET status = ?4, body = NULL, body_bytes = 0, omitted = 1 WHERE tenant = ?1 AND operation = ?2 AND key = ?3",
                params![at.tenant, at.operation, at.key, status],
            )?;
            Ok(())
        })
    }

    fn idempotency_abort(&self, at: RecordKey<'_>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM idempotency WHERE tenant = ?1 AND operation = ?2 AND key = ?3 AND status IS NULL",
                params![at.tenant, at.operation, at.key],
            )?;
            Ok(())
        })
    }
}
