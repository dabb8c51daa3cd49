//! Durable sync state: per tenant, provider and entity, the content hash of
//! every record last pushed successfully, so a delta sync sends only records
//! that changed — across host restarts.

use crate::audit::AuditEvent;
use crate::{Result, now_ms};

/// One mapping row.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SyncEntry {
    pub b2c_id: String,
    pub erp_id: String,
    pub erp_row_version: i64,
    pub content_hash: String,
    pub last_sync_at: i64,
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

/// How sync state is stored. Records are per (tenant, provider, entity,
/// B2Connect id).
pub(crate) trait SyncRows {
    /// The stored content hash of each id, in order.
    fn sync_hashes(&self, tenant: &str, provider: &str, entity: &str, ids: &[&str]) -> Result<Vec<Option<String>>>;
    /// Stores each (id, hash) as synced at `at`, in one transaction.
    fn sync_mark(&self, tenant: &str, provider: &str, entity: &str, items: &[(String, String)], at: i64) -> Result<()>;
    /// Per provider and entity, sorted: records tracked and last sync.
    fn sync_summary(&self, tenant: &str) -> Result<Vec<SyncSummary>>;
    /// Deletes every record of the tenant and writes `audit(records
    /// deleted)`, in one transaction; returns how many were deleted.
    fn sync_forget(&self, tenant: &str, audit: &dyn Fn(u64) -> AuditEvent) -> Result<u64>;
    /// The mapping of one record.
    fn sync_entry(&self, tenant: &str, provider: &str, entity: &str, b2c_id: &str) -> Result<Option<SyncEntry>>;
}

/// For each (id, hash): whether it differs from what was last synced.
pub(crate) fn changed(
    rows: &dyn SyncRows,
    tenant: &str,
    provider: &str,
    entity: &str,
    items: &[(String, String)],
) -> Result<Vec<bool>> {
    let ids: Vec<&str> = items.iter().map(|(id, _)| id.as_str()).collect();
    let stored = rows.sync_hashes(tenant, provider, entity, &ids)?;
    Ok(items.iter().zip(stored).map(|((_, hash), stored)| stored.as_deref() != Some(hash.as_str())).collect())
}

pub(crate) fn mark(
    rows: &dyn SyncRows,
    tenant: &str,
    provider: &str,
    entity: &str,
    items: &[(String, String)],
) -> Result<()> {
    rows.sync_mark(tenant, provider, entity, items, now_ms())
}

pub(crate) fn forget(rows: &dyn SyncRows, tenant: &str, actor: &str) -> Result<u64> {
    rows.sync_forget(tenant, &|n| AuditEvent::new(actor, "sync.reset", tenant, &format!("{n} records forgotten")))
}

#[cfg(test)]
mod tests {
    use crate::Registry;

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
