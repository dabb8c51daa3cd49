//! Durable sync state: per tenant, provider and entity, the content hash of
//! every record last pushed successfully, so a delta sync sends only records
//! that changed — across host restarts.

use crate::store::Registry;
use crate::{Result, now_ms};
use rusqlite::{OptionalExtension, params};

/// One mapping row.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SyncEntry {
    pub b2c_id: String,
    pub erp_id: String,
    pub erp_row_version: i64,
    pub content_hash: String,
    pub last_sync_at: i64,
}

impl Registry {
    /// For each (id, hash): whether it differs from what was last synced.
    pub fn sync_changed(
        &self,
        tenant: &str,
        provider: &str,
        entity: &str,
        items: &[(String, String)],
    ) -> Result<Vec<bool>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT content_hash FROM sync_map WHERE tenant = ?1 AND provider = ?2 AND entity = ?3 AND b2c_id = ?4",
        )?;
        items
            .iter()
            .map(|(id, hash)| {
                let stored: Option<String> =
                    stmt.query_row(params![tenant, provider, entity, id], |r| r.get(0)).optional()?;
                Ok(stored.as_deref() != Some(hash.as_str()))
            })
            .collect()
    }

    /// Records that these (id, hash) pairs were synced successfully now.
    pub fn sync_mark(&self, tenant: &str, provider: &str, entity: &str, items: &[(String, String)]) -> Result<()> {
        let now = now_ms();
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO sync_map (tenant, provider, entity, b2c_id, erp_id, content_hash, last_sync_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)
                 ON CONFLICT (tenant, provider, entity, b2c_id)
                 DO UPDATE SET content_hash = excluded.content_hash, last_sync_at = excluded.last_sync_at",
            )?;
            for (id, hash) in items {
                stmt.execute(params![tenant, provider, entity, id, hash, now])?;
            }
            Ok(())
        })
    }

    /// Per provider and entity: how many records are tracked and when the
    /// last one was synced (the tenant's sync cursors, for operators).
    pub fn sync_summary(&self, tenant: &str) -> Result<Vec<SyncSummary>> {
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

    /// Forgets what was synced for a tenant (all providers and entities), so
    /// the next sync sends every record again: after an ERP restore the
    /// stored hashes describe data the ERP no longer has. Returns how many
    /// records were forgotten; audited.
    pub fn sync_forget(&self, tenant: &str, actor: &str) -> Result<u64> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM sync_map WHERE tenant = ?1", [tenant])? as u64;
            crate::plugins::audit(tx, actor, "sync.reset", tenant, &format!("{n} records forgotten"))?;
            Ok(n)
        })
    }

    /// The mapping of one record, if it was ever synced.
    pub fn sync_entry(&self, tenant: &str, provider: &str, entity: &str, b2c_id: &str) -> Result<Option<SyncEntry>> {
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

/// A tenant's sync state for one provider and entity.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSummary {
    pub provider: String,
    pub entity: String,
    pub records: u64,
    /// Milliseconds since the Unix epoch.
    pub last_sync_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_until_marked_and_scoped_by_provider() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let items = vec![("P1".to_string(), "h1".to_string()), ("P2".to_string(), "h2".to_string())];
        assert_eq!(r.sync_changed("t", "erp", "product", &items).unwrap(), [true, true]);
        r.sync_mark("t", "erp", "product", &items[..1]).unwrap();
        assert_eq!(r.sync_changed("t", "erp", "product", &items).unwrap(), [false, true]);
        assert_eq!(r.sync_changed("t", "other-erp", "product", &items).unwrap(), [true, true]);
        assert_eq!(r.sync_changed("t", "erp", "product", &[("P1".into(), "h1b".into())]).unwrap(), [true]);
        assert_eq!(r.sync_entry("t", "erp", "product", "P1").unwrap().unwrap().content_hash, "h1");
        let summary = r.sync_summary("t").unwrap();
        assert_eq!((summary.len(), summary[0].records, summary[0].entity.as_str()), (1, 1, "product"));
    }

    #[test]
    fn forget_resets_one_tenant_only() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let items = vec![("P1".to_string(), "h1".to_string()), ("P2".to_string(), "h2".to_string())];
        r.sync_mark("t", "erp", "product", &items).unwrap();
        r.sync_mark("t", "erp", "customer", &items[..1]).unwrap();
        r.sync_mark("u", "erp", "product", &items).unwrap();
        assert_eq!(r.sync_forget("t", "op").unwrap(), 3);
        assert_eq!(r.sync_changed("t", "erp", "product", &items).unwrap(), [true, true]);
        assert_eq!(r.sync_changed("u", "erp", "product", &items).unwrap(), [false, false], "other tenants keep theirs");
        assert_eq!(r.sync_forget("t", "op").unwrap(), 0);
    }
}
