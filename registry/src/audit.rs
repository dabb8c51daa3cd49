//! The audit log: who changed what, when. Every change an operator (or the
//! host on its behalf) makes writes one entry in the same transaction as the
//! change itself, so the log never claims a change that did not happen nor
//! misses one that did. Which entry a change writes is decided by the module
//! that owns the change (publish, bind, API keys, sync reset, …), through
//! [`AuditEvent`]; this module owns the entry types and reading the log.

use crate::{Result, now_ms};

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

/// An entry to write along with a change (the store assigns the id).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AuditEvent {
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub actor: String,
    /// What happened, e.g. "publish", "bind", "api-key.revoke".
    pub action: String,
    /// What it happened to: a plugin version or a tenant.
    pub subject: String,
    pub detail: String,
}

impl AuditEvent {
    /// An entry stamped now.
    pub(crate) fn new(actor: &str, action: &str, subject: &str, detail: &str) -> Self {
        Self {
            at: now_ms(),
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Reading the log. Writing has no method of its own: entries are written
/// by the change methods of the other row traits, in their transaction.
pub(crate) trait AuditRows {
    /// The newest `limit` entries, newest first.
    fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>>;
}

#[cfg(test)]
mod tests {
    use crate::testutil::{host, info};
    use crate::{BindingRequest, KindRequest, ProviderKind, Registry};

    #[test]
    fn each_change_writes_one_entry_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let info = info("1.0.0", &[ProviderKind::Erp]);
        r.publish("p", "1.0.0", b"a", &info, "alice").unwrap();
        // Unchanged publishes and failed changes write nothing.
        r.publish("p", "1.0.0", b"a", &info, "alice").unwrap();
        assert!(r.set_yanked("p", "9.9.9", true, "alice").is_err());
        r.set_yanked("p", "1.0.0", true, "bob").unwrap();
        r.set_yanked("p", "1.0.0", false, "bob").unwrap();
        let request = BindingRequest {
            erp: Some(KindRequest { plugin: "p".into(), version: "^1".into() }),
            ..Default::default()
        };
        r.bind("t", &request, &host(), "carol").unwrap();
        let log = r.audit_log(10).unwrap();
        let seen: Vec<_> =
            log.iter().map(|e| (e.actor.as_str(), e.action.as_str(), e.subject.as_str(), e.detail.as_str())).collect();
        let sha = crate::sha256_hex(b"a");
        let publish_detail = format!("sha256={sha} size=1");
        assert_eq!(
            seen,
            [
                ("carol", "bind", "t", "erp: (none) -> p@1.0.0"),
                ("bob", "unyank", "p@1.0.0", ""),
                ("bob", "yank", "p@1.0.0", ""),
                ("alice", "publish", "p@1.0.0", publish_detail.as_str()),
            ]
        );
        assert!(log.windows(2).all(|w| w[0].id > w[1].id));
        assert_eq!(r.audit_log(1).unwrap().len(), 1);
    }
}
