//! Sync state in SQLite: one `sync_map` row per synced record.

use super::{Sqlite, insert_audit};
use crate::Result;
use crate::audit::AuditEvent;
use crate::sync_state::{SyncEntry, SyncRows, SyncSummary};
use rusqlite::{OptionalExtension, params};

impl SyncRows for Sqlite {
    fn sync_hashes(&self, tenant: &str, provider: &str, entity: &str, ids: &[&str]) -> Result<Vec<Option<String>>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT content_hash FROM sync_map WHERE tenant = ?1 AND provider = ?2 AND entity = ?3 AND b2c_id = ?4",
        )?;
        ids.iter()
            .map(|id| Ok(stmt.query_row(params![tenant, provider, entity, id], |r| r.get(0)).optional()?))
            .collect()
    }

    fn sync_mark(&self, tenant: &str, provider: &str, entity: &str, items: &[(String, String)], at: i64) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO sync_map (tenant, provider, entity, b2c_id, erp_id, content_hash, last_sync_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)
                 ON CONFLICT (tenant, provider, entity, b2c_id)
                 DO UPDATE SET content_hash = excluded.content_hash, last_sync_at = excluded.last_sync_at",
            )?;
            for (id, hash) in items {
                stmt.execute(params![tenant, provider, entity, id, hash, at])?;
            }
            Ok(())
        })
    }

    fn sync_summary(&self, tenant: &str) -> Result<Vec<SyncSummary>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT provider, entity, COUNT(*), MAX(last_sync_at) FROM sync_map WHERE tenant = ?1
             GROUP BY provider, entity ORDER BY provider, entity",
        )?;
        Ok(stmt
            .query_map([tenant], |r| {
                Ok(SyncSummary {
                    provider: r.get(0)?,
                    entity: r.get(1)?,
                    records: r.get::<_, i64>(2)? as u64,
                    last_sync_at: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn sync_forget(&self, tenant: &str, audit: &dyn Fn(u64) -> AuditEvent) -> Result<u64> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM sync_map WHERE tenant = ?1", [tenant])? as u64;
            insert_audit(tx, &audit(n))?;
            Ok(n)
        })
    }

    fn sync_entry(&self, tenant: &str, provider: &str, entity: &str, b2c_id: &str) -> Result<Option<SyncEntry>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT b2c_id, erp_id, erp_row_version, content_hash, last_sync_at FROM sync_map
                 WHERE tenant = ?1 AND provider = ?2 AND entity = ?3 AND b2c_id = ?4",
                params![tenant, provider, entity, b2c_id],
                |r| {
                    Ok(SyncEntry {
                        b2c_id: r.get(0)?,
                        erp_id: r.get(1)?,
                        erp_row_version: r.get(2)?,
                        content_hash: r.get(3)?,
                        last_sync_at: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }
}
