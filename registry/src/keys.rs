//! Tenant API keys. Only a sha256 of a key is stored; the key itself is shown
//! once, when it is created. A key's id is derived from its hash so it can be
//! shown and logged without revealing anything usable.

use crate::audit::AuditEvent;
use crate::{Error, Result, now_ms, sha256_hex};

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

/// A key to store: its hash, never the key.
pub(crate) struct NewApiKey<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    /// sha256 of the key, hex.
    pub hash: &'a str,
    pub label: &'a str,
    pub created_at: i64,
}

/// What [`KeyRows::insert_api_key`] found.
pub(crate) enum KeyInsert {
    Inserted,
    NoTenant,
    /// Some key (of any tenant) already has this hash.
    HashTaken,
}

/// How API keys are stored. Each change method is one transaction that
/// includes its audit entry.
pub(crate) trait KeyRows {
    /// Stores `key` and writes `audit`, unless its tenant does not exist or
    /// its hash is taken (then writes nothing).
    fn insert_api_key(&self, key: &NewApiKey<'_>, audit: &AuditEvent) -> Result<KeyInsert>;
    /// Marks the tenant's active key `id` revoked at `at` and writes
    /// `audit`; `None` (nothing written) when there is no such active key.
    fn revoke_api_key(&self, tenant: &str, id: &str, at: i64, audit: &AuditEvent) -> Result<Option<ApiKey>>;
    /// Keys of a tenant (metadata only), oldest first.
    fn api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>>;
    /// Every active key as (hash, tenant, key id).
    fn active_key_hashes(&self) -> Result<Vec<(String, String, String)>>;
}

fn key_id(hash: &str) -> String {
    format!("key_{}", &hash[..16])
}

pub(crate) fn add_api_key(rows: &dyn KeyRows, tenant: &str, secret: &str, label: &str, actor: &str) -> Result<ApiKey> {
    if secret.len() < 16 {
        return Err(Error::InvalidInput("an API key must be at least 16 characters".into()));
    }
    let hash = sha256_hex(secret.as_bytes());
    let id = key_id(&hash);
    let now = now_ms();
    let key = NewApiKey { id: &id, tenant, hash: &hash, label, created_at: now };
    let audit = AuditEvent::new(actor, "api-key.create", tenant, &format!("{id} ({label})"));
    match rows.insert_api_key(&key, &audit)? {
        KeyInsert::Inserted => {}
        KeyInsert::NoTenant => return Err(Error::NotFound(format!("tenant {tenant} does not exist"))),
        KeyInsert::HashTaken => return Err(Error::Conflict("this key is already registered".into())),
    }
    Ok(ApiKey {
        id,
        tenant: tenant.to_string(),
        label: label.to_string(),
        created_at: now,
        revoked_at: None,
        secret: Some(secret.to_string()),
    })
}

pub(crate) fn revoke_api_key(rows: &dyn KeyRows, tenant: &str, id: &str, actor: &str) -> Result<ApiKey> {
    let audit = AuditEvent::new(actor, "api-key.revoke", tenant, id);
    rows.revoke_api_key(tenant, id, now_ms(), &audit)?
        .ok_or_else(|| Error::NotFound(format!("tenant {tenant} has no active key {id}")))
}

#[cfg(test)]
mod tests {
    use crate::{Error, Registry, sha256_hex};

    #[test]
    fn keys_are_stored_hashed_and_revoked_once() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let secret = "b2c_test_key_0123456789";
        assert!(matches!(r.add_api_key("t", secret, "l", "op"), Err(Error::NotFound(_))), "no such tenant");
        // A tenant without a binding yet, written beside the registry.
        let db = rusqlite::Connection::open(dir.path().join("registry.sqlite3")).unwrap();
        db.execute("INSERT INTO tenants (id, created_at) VALUES ('t', 0)", []).unwrap();
        assert!(matches!(r.add_api_key("t", "short", "l", "op"), Err(Error::InvalidInput(_))));
        let key = r.add_api_key("t", secret, "l", "op").unwrap();
        assert_eq!(key.secret.as_deref(), Some(secret));
        let hash = sha256_hex(secret.as_bytes());
        assert_eq!(key.id, format!("key_{}", &hash[..16]));
        assert!(matches!(r.add_api_key("t", secret, "again", "op"), Err(Error::Conflict(_))));
        assert_eq!(r.active_key_hashes().unwrap(), [(hash, "t".to_string(), key.id.clone())]);
        let listed = r.api_keys("t").unwrap();
        assert_eq!((listed.len(), listed[0].secret.is_none()), (1, true), "the key itself is never read back");
        let revoked = r.revoke_api_key("t", &key.id, "op").unwrap();
        assert!(revoked.revoked_at.is_some());
        assert!(matches!(r.revoke_api_key("t", &key.id, "op"), Err(Error::NotFound(_))));
        assert!(r.active_key_hashes().unwrap().is_empty());
    }
}
