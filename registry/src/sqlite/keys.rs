//! API keys in SQLite: the hash is a unique column; the key is never stored.

use super::{Sqlite, insert_audit};
use crate::Result;
use crate::audit::AuditEvent;
use crate::keys::{ApiKey, KeyInsert, KeyRows, NewApiKey};
use rusqlite::{Row, params};

const KEY_COLS: &str = "id, tenant, label, created_at, revoked_at";

fn key_row(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: r.get(0)?,
        tenant: r.get(1)?,
        label: r.get(2)?,
        created_at: r.get(3)?,
        revoked_at: r.get(4)?,
        secret: None,
    })
}

impl KeyRows for Sqlite {
    fn insert_api_key(&self, key: &NewApiKey<'_>, audit: &AuditEvent) -> Result<KeyInsert> {
        self.write(|tx| {
            let exists: bool =
                tx.query_row("SELECT EXISTS(SELECT 1 FROM tenants WHERE id = ?1)", [key.tenant], |r| r.get(0))?;
            if !exists {
                return Ok(KeyInsert::NoTenant);
            }
            let taken: bool =
                tx.query_row("SELECT EXISTS(SELECT 1 FROM api_keys WHERE hash = ?1)", [key.hash], |r| r.get(0))?;
            if taken {
                return Ok(KeyInsert::HashTaken);
            }
            let active: i64 = tx.query_row(
                "SELECT COUNT(*) FROM api_keys WHERE tenant = ?1 AND revoked_at IS NULL",
                [key.tenant],
                |r| r.get(0),
            )?;
            if active >= crate::keys::MAX_ACTIVE_KEYS as i64 {
                return Ok(KeyInsert::AtLimit);
            }
            tx.execute(
                "INSERT INTO api_keys (id, tenant, hash, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key.id, key.tenant, key.hash, key.label, key.created_at],
            )?;
            insert_audit(tx, audit)?;
            Ok(KeyInsert::Inserted)
        })
    }

    fn revoke_api_key(&self, tenant: &str, id: &str, at: i64, audit: &AuditEvent) -> Result<Option<ApiKey>> {
        let revoked = self.write(|tx| {
            let n = tx.execute(
                "UPDATE api_keys SET revoked_at = ?3 WHERE tenant = ?1 AND id = ?2 AND revoked_at IS NULL",
                params![tenant, id, at],
            )?;
            if n > 0 {
                insert_audit(tx, audit)?;
            }
            Ok(n > 0)
        })?;
        if !revoked {
            return Ok(None);
        }
        Ok(Some(self.conn().query_row(&format!("SELECT {KEY_COLS} FROM api_keys WHERE id = ?1"), [id], key_row)?))
    }

    fn api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare(&format!("SELECT {KEY_COLS} FROM api_keys WHERE tenant = ?1 ORDER BY created_at, id"))?;
        Ok(stmt.query_map([tenant], key_row)?.collect::<rusqlite::Result<_>>()?)
    }

    fn active_key_hashes(&self) -> Result<Vec<(String, String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT hash, tenant, id FROM api_keys WHERE revoked_at IS NULL")?;
        Ok(stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?)
    }
}
