//! The audit log in SQLite (entries are written by `insert_audit` in each
//! change's transaction).

use super::Sqlite;
use crate::Result;
use crate::audit::{AuditEntry, AuditRows};

impl AuditRows for Sqlite {
    fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, at, actor, action, subject, detail FROM audit ORDER BY id DESC LIMIT ?1")?;
        Ok(stmt
            .query_map([limit], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    subject: r.get(4)?,
                    detail: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }
}
