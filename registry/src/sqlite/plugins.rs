//! Plugins and versions in SQLite. `exports` and `imports` are JSON text.

use super::{Sqlite, insert_audit, json_err};
use crate::Result;
use crate::audit::AuditEvent;
use crate::plugins::{PluginRows, VersionRecord};
use rusqlite::{OptionalExtension, Row, params};
use std::collections::HashSet;

const VERSION_COLS: &str =
    "name, version, sha256, size, contract_version, exports, imports, yanked, published_at, published_by";

fn version_row(r: &Row<'_>) -> rusqlite::Result<VersionRecord> {
    Ok(VersionRecord {
        name: r.get(0)?,
        version: r.get(1)?,
        sha256: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        contract_version: r.get(4)?,
        exports: serde_json::from_str(&r.get::<_, String>(5)?).map_err(|e| json_err(5, e))?,
        imports: serde_json::from_str(&r.get::<_, String>(6)?).map_err(|e| json_err(6, e))?,
        yanked: r.get(7)?,
        published_at: r.get(8)?,
        published_by: r.get(9)?,
    })
}

impl PluginRows for Sqlite {
    fn version(&self, name: &str, version: &str) -> Result<Option<VersionRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {VERSION_COLS} FROM versions WHERE name = ?1 AND version = ?2"),
                params![name, version],
                version_row,
            )
            .optional()?)
    }

    fn versions(&self, name: &str) -> Result<Vec<VersionRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {VERSION_COLS} FROM versions WHERE name = ?1"))?;
        Ok(stmt.query_map([name], version_row)?.collect::<rusqlite::Result<_>>()?)
    }

    fn plugin_names(&self) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name FROM plugins ORDER BY name")?;
        Ok(stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
    }

    fn insert_version(&self, record: &VersionRecord, audit: &AuditEvent) -> Result<Option<String>> {
        let VersionRecord { name, version, sha256, .. } = record;
        self.write(|tx| {
            // Re-check inside the write lock: a concurrent publish of the
            // same version may have won the race.
            let raced: Option<String> = tx
                .query_row(
                    "SELECT sha256 FROM versions WHERE name = ?1 AND version = ?2",
                    params![name, version],
                    |r| r.get(0),
                )
                .optional()?;
            if raced.is_some() {
                return Ok(raced);
            }
            tx.execute(
                "INSERT OR IGNORE INTO plugins (name, created_at) VALUES (?1, ?2)",
                params![name, record.published_at],
            )?;
            tx.execute(
                &format!("INSERT INTO versions ({VERSION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    name,
                    version,
                    sha256,
                    record.size as i64,
                    record.contract_version,
                    serde_json::to_string(&record.exports).expect("kinds serialize"),
                    serde_json::to_string(&record.imports).expect("strings serialize"),
                    record.yanked,
                    record.published_at,
                    record.published_by
                ],
            )?;
            insert_audit(tx, audit)?;
            Ok(None)
        })
    }

    fn set_yanked(&self, name: &str, version: &str, yanked: bool, audit: &AuditEvent) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE versions SET yanked = ?3 WHERE name = ?1 AND version = ?2",
                params![name, version, yanked],
            )?;
            if n > 0 {
                insert_audit(tx, audit)?;
            }
            Ok(n > 0)
        })
    }

    fn digest_in_use(&self, sha256: &str) -> Result<bool> {
        Ok(self.conn().query_row("SELECT EXISTS(SELECT 1 FROM versions WHERE sha256 = ?1)", [sha256], |r| r.get(0))?)
    }

    fn referenced_digests(&self) -> Result<HashSet<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT DISTINCT sha256 FROM versions")?;
        Ok(stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<_>>()?)
    }
}
