//! Tenants: bindings (which plugin version serves which provider kind, with
//! history for rollback), API keys (hashed), and the audit log.

use crate::inspect::HostContract;
use crate::plugins::{audit, sha256_hex};
use crate::store::Registry;
use crate::{Error, ProviderKind, Result, now_ms};
use rusqlite::{OptionalExtension, Row, params};
use semver::VersionReq;
use std::collections::BTreeMap;

/// Tenant ids: lowercase letters, digits and '-', 1–64 characters, not
/// starting or ending with '-'. They appear in URLs, logs and metrics.
pub fn valid_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('-')
        && !id.ends_with('-')
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What an operator asks for one provider kind.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindRequest {
    pub plugin: String,
    /// A semver requirement, e.g. "^1", "=1.2.3", "*".
    pub version: String,
}

/// A binding request: per kind a plugin and requirement, plus settings and
/// the socket grant.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingRequest {
    #[serde(default)]
    pub erp: Option<KindRequest>,
    #[serde(default)]
    pub crm: Option<KindRequest>,
    #[serde(default)]
    pub pim: Option<KindRequest>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub socket: Option<String>,
}

impl BindingRequest {
    pub fn kind(&self, kind: ProviderKind) -> Option<&KindRequest> {
        match kind {
            ProviderKind::Erp => self.erp.as_ref(),
            ProviderKind::Crm => self.crm.as_ref(),
            ProviderKind::Pim => self.pim.as_ref(),
        }
    }
}

/// A resolved, pinned plugin version.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pin {
    pub plugin: String,
    pub version: String,
    pub sha256: String,
    /// The requirement it was resolved from.
    pub requirement: String,
}

/// One binding of a tenant (a row of its history).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BindingRecord {
    pub id: i64,
    pub tenant: String,
    pub pins: BTreeMap<ProviderKind, Pin>,
    pub config: BTreeMap<String, String>,
    pub socket: Option<String>,
    pub created_at: i64,
    pub created_by: String,
}

/// A tenant and its current binding.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TenantRecord {
    pub id: String,
    pub created_at: i64,
    pub binding: Option<BindingRecord>,
}

/// An API key's metadata; `secret` is only set right after creation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ApiKey {
    pub id: String,
    pub tenant: String,
    pub label: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// One audit log entry.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

fn json_err(i: usize, e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

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

/// The id of a key, derived from its hash so it can be shown and logged
/// without revealing anything usable.
fn key_id(hash: &str) -> String {
    format!("key_{}", &hash[..16])
}

impl Registry {
    fn check_tenant_id(tenant: &str) -> Result<()> {
        if !valid_tenant_id(tenant) {
            return Err(Error::InvalidInput(format!(
                "tenant id {tenant:?} is not valid: use lowercase letters, digits and '-', at most 64 characters"
            )));
        }
        Ok(())
    }

    /// Resolves every kind of `request`, pins the results and makes them the
    /// tenant's current binding (creating the tenant if new).
    pub fn bind(
        &self,
        tenant: &str,
        request: &BindingRequest,
        host: &HostContract,
        actor: &str,
    ) -> Result<BindingRecord> {
        let pins = self.plan_binding(tenant, request, host)?;
        self.commit_binding(tenant, request, &pins, actor)
    }

    /// Validates a request and resolves every kind to a pinned version,
    /// without writing anything (so the host can load the plugins first).
    pub fn plan_binding(
        &self,
        tenant: &str,
        request: &BindingRequest,
        host: &HostContract,
    ) -> Result<BTreeMap<ProviderKind, Pin>> {
        Self::check_tenant_id(tenant)?;
        if let Some(s) = &request.socket {
            validate_endpoint(s)?;
        }
        let mut pins = BTreeMap::new();
        for kind in ProviderKind::ALL {
            let Some(k) = request.kind(kind) else {
                continue;
            };
            let req = VersionReq::parse(&k.version).map_err(|e| {
                Error::InvalidInput(format!("{kind}.version {:?} is not a semver requirement: {e}", k.version))
            })?;
            let v = self.resolve(&k.plugin, &req, kind, host)?;
            pins.insert(
                kind,
                Pin { plugin: v.name, version: v.version, sha256: v.sha256, requirement: k.version.clone() },
            );
        }
        if pins.is_empty() {
            return Err(Error::InvalidInput("a binding needs at least one of erp, crm, pim".into()));
        }
        Ok(pins)
    }

    /// Records `pins` (from [`Registry::plan_binding`]) as the tenant's
    /// current binding, creating the tenant if new.
    pub fn commit_binding(
        &self,
        tenant: &str,
        request: &BindingRequest,
        pins: &BTreeMap<ProviderKind, Pin>,
        actor: &str,
    ) -> Result<BindingRecord> {
        Self::check_tenant_id(tenant)?;
        let now = now_ms();
        let id = self.write(|tx| {
            tx.execute("INSERT OR IGNORE INTO tenants (id, created_at) VALUES (?1, ?2)", params![tenant, now])?;
            tx.execute(
                "INSERT INTO bindings (tenant, request, pins, config, socket, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    tenant,
                    serde_json::to_string(request).expect("request serializes"),
                    serde_json::to_string(pins).expect("pins serialize"),
                    serde_json::to_string(&request.config).expect("config serializes"),
                    request.socket,
                    now,
                    actor
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute("UPDATE tenants SET current_binding = ?2 WHERE id = ?1", params![tenant, id])?;
            let summary: Vec<String> = pins.iter().map(|(k, p)| format!("{k}={}@{}", p.plugin, p.version)).collect();
            audit(tx, actor, "bind", tenant, &summary.join(" "))?;
            Ok(id)
        })?;
        self.binding(id)
    }

    fn binding(&self, id: i64) -> Result<BindingRecord> {
        Ok(self.conn().query_row(&format!("SELECT {BINDING_COLS} FROM bindings WHERE id = ?1"), [id], binding_row)?)
    }

    /// Moves the tenant back to the binding before its current one.
    pub fn rollback(&self, tenant: &str, actor: &str) -> Result<BindingRecord> {
        let id = self.write(|tx| {
            let current: Option<Option<i64>> =
                tx.query_row("SELECT current_binding FROM tenants WHERE id = ?1", [tenant], |r| r.get(0)).optional()?;
            let current = current.ok_or_else(|| Error::NotFound(format!("tenant {tenant} does not exist")))?;
            let current = current.ok_or_else(|| Error::Conflict(format!("tenant {tenant} has no binding")))?;
            let previous: Option<i64> = tx.query_row(
                "SELECT MAX(id) FROM bindings WHERE tenant = ?1 AND id < ?2",
                params![tenant, current],
                |r| r.get(0),
            )?;
            let previous = previous
                .ok_or_else(|| Error::Conflict(format!("tenant {tenant} has no earlier binding to roll back to")))?;
            tx.execute("UPDATE tenants SET current_binding = ?2 WHERE id = ?1", params![tenant, previous])?;
            audit(tx, actor, "rollback", tenant, &format!("binding {current} -> {previous}"))?;
            Ok(previous)
        })?;
        self.binding(id)
    }

    /// A tenant with its current binding.
    pub fn tenant(&self, tenant: &str) -> Result<Option<TenantRecord>> {
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

    /// Every tenant with its current binding, by id.
    pub fn tenants(&self) -> Result<Vec<TenantRecord>> {
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare("SELECT id FROM tenants ORDER BY id")?;
            stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
        };
        ids.iter().filter_map(|id| self.tenant(id).transpose()).collect()
    }

    /// A tenant's binding history, newest first.
    pub fn binding_history(&self, tenant: &str) -> Result<Vec<BindingRecord>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare(&format!("SELECT {BINDING_COLS} FROM bindings WHERE tenant = ?1 ORDER BY id DESC"))?;
        Ok(stmt.query_map([tenant], binding_row)?.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores a hash of `secret` as a new key of `tenant`.
    pub fn add_api_key(&self, tenant: &str, secret: &str, label: &str, actor: &str) -> Result<ApiKey> {
        if secret.len() < 16 {
            return Err(Error::InvalidInput("an API key must be at least 16 characters".into()));
        }
        let hash = sha256_hex(secret.as_bytes());
        let id = key_id(&hash);
        let now = now_ms();
        self.write(|tx| {
            let exists: bool =
                tx.query_row("SELECT EXISTS(SELECT 1 FROM tenants WHERE id = ?1)", [tenant], |r| r.get(0))?;
            if !exists {
                return Err(Error::NotFound(format!("tenant {tenant} does not exist")));
            }
            let taken: bool =
                tx.query_row("SELECT EXISTS(SELECT 1 FROM api_keys WHERE hash = ?1)", [&hash], |r| r.get(0))?;
            if taken {
                return Err(Error::Conflict("this key is already registered".into()));
            }
            tx.execute(
                "INSERT INTO api_keys (id, tenant, hash, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, tenant, hash, label, now],
            )?;
            audit(tx, actor, "api-key.create", tenant, &format!("{id} ({label})"))
        })?;
        Ok(ApiKey {
            id,
            tenant: tenant.to_string(),
            label: label.to_string(),
            created_at: now,
            revoked_at: None,
            secret: Some(secret.to_string()),
        })
    }

    /// Revokes one key of `tenant`.
    pub fn revoke_api_key(&self, tenant: &str, id: &str, actor: &str) -> Result<ApiKey> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE api_keys SET revoked_at = ?3 WHERE tenant = ?1 AND id = ?2 AND revoked_at IS NULL",
                params![tenant, id, now_ms()],
            )?;
            if n == 0 {
                return Err(Error::NotFound(format!("tenant {tenant} has no active key {id}")));
            }
            audit(tx, actor, "api-key.revoke", tenant, id)
        })?;
        Ok(self.conn().query_row(
            "SELECT id, tenant, label, created_at, revoked_at FROM api_keys WHERE id = ?1",
            [id],
            key_row,
        )?)
    }

    /// Keys of a tenant (metadata only).
    pub fn api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, tenant, label, created_at, revoked_at FROM api_keys WHERE tenant = ?1 ORDER BY created_at, id",
        )?;
        Ok(stmt.query_map([tenant], key_row)?.collect::<rusqlite::Result<_>>()?)
    }

    /// Every active key as (sha256 of the secret, tenant, key id); the host
    /// keeps these in memory to authenticate requests.
    pub fn active_key_hashes(&self) -> Result<Vec<(String, String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT hash, tenant, id FROM api_keys WHERE revoked_at IS NULL")?;
        Ok(stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest audit entries, newest first.
    pub fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>> {
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

/// A socket grant is "host:port" with a numeric port; the host checks the
/// exact string on connect, so it must be unambiguous.
fn validate_endpoint(s: &str) -> Result<()> {
    let bad = || Error::InvalidInput(format!("socket {s:?} is not host:port"));
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        for ok in ["demo", "acme-gmbh", "t42", "42"] {
            assert!(valid_tenant_id(ok), "{ok}");
        }
        for bad in ["", "Demo", "-a", "a-", "a b", "a/b", "..", "ä"] {
            assert!(!valid_tenant_id(bad), "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        assert!(validate_endpoint("127.0.0.1:7001").is_ok());
        assert!(validate_endpoint("enventa.local:7001").is_ok());
        for bad in ["127.0.0.1", ":80", "h:0", "h:99999", "a b:1"] {
            assert!(validate_endpoint(bad).is_err(), "{bad}");
        }
    }
}
