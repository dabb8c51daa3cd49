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

/// Active API keys a tenant may have: enough to rotate keys per client
/// system, few enough that every key stays accounted for (and the key table
/// and the host's in-memory key map stay bounded).
pub const MAX_ACTIVE_KEYS: usize = 20;

/// What [`KeyRows::insert_api_key`] found.
pub(crate) enum KeyInsert {
    Inserted,
    NoTenant,
    /// The tenant has `MAX_ACTIVE_KEYS` active keys already.
    AtLimit,
    /// Some key (of any tenant) already has this hash.
    HashTaken,
}

/// How API keys are stored. Each change method is one transaction that
/// includes its audit entry.
pub(crate) trait KeyRows {
    /// Stores `key` and writes `audit`, unless its tenant does not exist,
    /// has [`MAX_ACTIVE_KEYS`] active keys, or its hash is taken (then
    /// writes nothing). The count is taken in the same transaction, so
    /// concurrent creations cannot pass the cap together.
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
        KeyInsert::AtLimit => {
            return Err(Error::Conflict(format!(
                "tenant {tenant} has {MAX_ACTIVE_KEYS} active API keys, the most it may have; revoke one first"
            )));
        }
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

    #[test]
    fn concurrent_creations_cannot_pass_the_active_key_cap_together() {
        let dir = tempfile::tempdir().unwrap();
        let r = std::sync::Arc::new(Registry::open(dir.path()).unwrap());
        let db = rusqlite::Connection::open(dir.path().join("registry.sqlite3")).unwrap();
        db.execute("INSERT INTO tenants (id, created_at) VALUES ('t', 0)", []).unwrap();
        let audit_before = r.audit_log(10_000).unwrap().len();
        // 8 threads × 5 keys race for the 20 places.
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let r = r.clone();
                std::thread::spawn(move || {
                    (0..5)
                        .map(|k| r.add_api_key("t", &format!("b2c_race_key_{t}_{k}_0123456789"), "race", "op"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        let created = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(created, super::MAX_ACTIVE_KEYS, "exactly the cap is created");
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(matches!(e, Error::Conflict(m) if m.contains("20 active API keys")), "{e}");
        }
        assert_eq!(r.api_keys("t").unwrap().len(), 20, "a refused key writes no row");
        assert_eq!(r.audit_log(10_000).unwrap().len(), audit_before + 20, "nor an audit entry");
        // A revoked key frees its place.
        let first = r.api_keys("t").unwrap()[0].id.clone();
        r.revoke_api_key("t", &first, "op").unwrap();
        r.add_api_key("t", "b2c_after_revoke_0123456789", "l", "op").unwrap();
        assert!(matches!(r.add_api_key("t", "b2c_one_too_many_0123456789", "l", "op"), Err(Error::Conflict(_))));
    }
}
