//! The SQLite backend: one database file in WAL mode, numbered migrations
//! embedded from `migrations/`, and every write in a `BEGIN IMMEDIATE`
//! transaction, so two writers never interleave and a reader never sees
//! half a change. One submodule per row trait (see `backend.rs`).

mod audit;
mod bindings;
mod idempotency;
mod keys;
mod plugins;
mod sync_state;

use crate::audit::AuditEvent;
use crate::backend::Backend;
use crate::{Result, now_ms};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Numbered migrations, embedded in the binary; applied in order once each.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_idempotency.sql")),
    (3, include_str!("../../migrations/0003_sync_state.sql")),
    (4, include_str!("../../migrations/0004_idempotency_bounds.sql")),
];

/// One connection behind a mutex: SQLite serializes writers anyway, every
/// statement here is short, and a single connection makes `BEGIN IMMEDIATE`
/// trivially safe under the multi-threaded server.
pub(crate) struct Sqlite {
    conn: Mutex<Connection>,
}

impl Sqlite {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (the transaction rolls back on drop), so a poisoned lock is safe
        // to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction; commits if it succeeds.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

impl Backend for Sqlite {
    fn integrity_check(&self) -> Result<String> {
        Ok(self.conn().query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// Writes the audit entry of a change, inside the change's transaction.
fn insert_audit(tx: &Transaction<'_>, e: &AuditEvent) -> Result<()> {
    tx.execute(
        "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![e.at, e.actor, e.action, e.subject, e.detail],
    )?;
    Ok(())
}

/// A JSON column that does not parse, as a row-conversion error.
fn json_err(i: usize, e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    for (version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: Option<i64> = tx
            .query_row("SELECT version FROM schema_migrations WHERE version = ?1", [version], |r| r.get(0))
            .optional()?;
        if done.is_none() {
            tx.execute_batch(sql)?;
            tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)", (version, now_ms()))?;
        }
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_reopen_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.sqlite3");
        drop(Sqlite::open(&path).unwrap());
        let db = Sqlite::open(&path).unwrap();
        let applied: Vec<i64> = {
            let conn = db.conn();
            let mut stmt = conn.prepare("SELECT version FROM schema_migrations ORDER BY version").unwrap();
            stmt.query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
        };
        assert_eq!(applied, MIGRATIONS.iter().map(|(v, _)| *v).collect::<Vec<_>>());
        assert_eq!(db.integrity_check().unwrap(), "ok");
        // A failed change rolls back whole: nothing of it is visible.
        let failed: Result<()> = db.write(|tx| {
            insert_audit(tx, &AuditEvent::new("t", "x", "y", ""))?;
            Err(crate::Error::Conflict("abandon".into()))
        });
        assert!(failed.is_err());
        let count: i64 = db.conn().query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0)).unwrap();
        assert_eq!(count, 0);
    }
}
