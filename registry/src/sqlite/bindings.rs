//! Tenants and binding history in SQLite. `tenants.current_binding` points
//! at the active row of the append-only `bindings` table.

use super::{Sqlite, insert_audit, json_err};
use crate::audit::AuditEvent;
use crate::bindings::{BindingRecord, BindingRequest, BindingRows, Pin, Rollback, TenantRecord};
use crate::{ProviderKind, Result};
use rusqlite::{OptionalExtension, Row, params};
use std::collections::BTreeMap;

const BINDING_COLS: &str = "id, tenant, pins, config, socket, created_at, created_by";

fn binding_row(r: &Row<'_>) -> rusqlite::Result<BindingRecord> {
    Ok(BindingRecord {
        id: r.get(0)?,
        tenant: r.get(1)?,
        pins: serde_json::from_str(&r.get::<_, String>(2)?).map_err(|e| json_err(2, e))?,
        config: serde_json::from_str(&r.get::<_, String>(3)?).map_err(|e| json_err(3, e))?,
        socket: r.get(4)?,
        created_at: r.get(5)?,
        created_by: r.get(6)?,
    })
}

impl Sqlite {
    fn binding(&self, id: i64) -> Result<BindingRecord> {
        Ok(self.conn().query_row(&format!("SELECT {BINDING_COLS} FROM bindings WHERE id = ?1"), [id], binding_row)?)
    }
}

impl BindingRows for Sqlite {
    fn commit_binding(
        &self,
        tenant: &str,
        request: &BindingRequest,
        pins: &BTreeMap<ProviderKind, Pin>,
        created_at: i64,
        created_by: &str,
        audit: &dyn Fn(Option<&BindingRecord>) -> AuditEvent,
    ) -> Result<BindingRecord> {
        let id = self.write(|tx| {
            // The binding this one replaces, read in the write transaction
            // so the audit entry names what really changed.
            let before = tx
                .query_row(
                    &format!(
                        "SELECT {} FROM bindings b JOIN tenants t ON t.current_binding = b.id WHERE t.id = ?1",
                        BINDING_COLS.split(", ").map(|c| format!("b.{c}")).collect::<Vec<_>>().join(", ")
                    ),
                    [tenant],
                    binding_row,
                )
                .optional()?;
            tx.execute("INSERT OR IGNORE INTO tenants (id, created_at) VALUES (?1, ?2)", params![tenant, created_at])?;
            tx.execute(
                "INSERT INTO bindings (tenant, request, pins, config, socket, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    tenant,
                    serde_json::to_string(request).expect("request serializes"),
                    serde_json::to_string(pins).expect("pins serialize"),
                    serde_json::to_string(&request.config).expect("config serializes"),
                    request.socket,
                    created_at,
                    created_by
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute("UPDATE tenants SET current_binding = ?2 WHERE id = ?1", params![tenant, id])?;
            insert_audit(tx, &audit(before.as_ref()))?;
            Ok(id)
        })?;
        self.binding(id)
    }

    fn rollback_binding(&self, tenant: &str, audit: &dyn Fn(i64, i64) -> AuditEvent) -> Result<Rollback> {
        let moved = self.write(|tx| {
            let current: Option<Option<i64>> =
                tx.query_row("SELECT current_binding FROM tenants WHERE id = ?1", [tenant], |r| r.get(0)).optional()?;
            let Some(current) = current else {
                return Ok(Err(Rollback::NoTenant));
            };
            let Some(current) = current else {
                return Ok(Err(Rollback::NoBinding));
            };
            let previous: Option<i64> = tx.query_row(
                "SELECT MAX(id) FROM bindings WHERE tenant = ?1 AND id < ?2",
                params![tenant, current],
                |r| r.get(0),
            )?;
            let Some(previous) = previous else {
                return Ok(Err(Rollback::NoEarlier));
            };
            tx.execute("UPDATE tenants SET current_binding = ?2 WHERE id = ?1", params![tenant, previous])?;
            insert_audit(tx, &audit(current, previous))?;
            Ok(Ok(previous))
        })?;
        match moved {
            Ok(id) => Ok(Rollback::Done(self.binding(id)?)),
            Err(refused) => Ok(refused),
        }
    }

    fn tenant(&self, tenant: &str) -> Result<Option<TenantRecord>> {
        let row: Option<(i64, Option<i64>)> = self
            .conn()
            .query_row("SELECT created_at, current_binding FROM tenants WHERE id = ?1", [tenant], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((created_at, current)) = row else {
            return Ok(None);
        };
        Ok(Some(TenantRecord {
            id: tenant.to_string(),
            created_at,
            binding: current.map(|id| self.binding(id)).transpose()?,
        }))
    }

    fn tenant_ids(&self) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id FROM tenants ORDER BY id")?;
        Ok(stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
    }

    fn binding_history(&self, tenant: &str) -> Result<Vec<BindingRecord>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare(&format!("SELECT {BINDING_COLS} FROM bindings WHERE tenant = ?1 ORDER BY id DESC"))?;
        Ok(stmt.query_map([tenant], binding_row)?.collect::<rusqlite::Result<_>>()?)
    }
}
