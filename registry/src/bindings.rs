//! Tenant bindings: which plugin version serves which provider kind of a
//! tenant, with settings and the socket grant. Bindings are history, not
//! state: each bind appends one, the tenant points at its current one, and
//! a rollback moves the pointer back to the one before.
//!
//! Validation, resolution to pinned versions and the audit entries live
//! here; rows are stored through [`BindingRows`].

use crate::audit::AuditEvent;
use crate::inspect::HostContract;
use crate::plugins::{self, PluginRows};
use crate::{Error, ProviderKind, Result, now_ms};
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

/// What [`BindingRows::rollback_binding`] found.
pub(crate) enum Rollback {
    NoTenant,
    /// The tenant exists but was never bound.
    NoBinding,
    /// The current binding is the tenant's first.
    NoEarlier,
    /// The binding before the current one is current now.
    Done(BindingRecord),
}

/// How tenants and their binding history are stored. Each change method is
/// one transaction that includes its audit entry.
pub(crate) trait BindingRows {
    /// Creates the tenant if new, appends a binding (`request`, `pins`, the
    /// request's config and socket, stamped `created_at`/`created_by`),
    /// makes it current and writes the entry `audit` makes of the binding
    /// it replaces (`None` for the tenant's first), read in the same
    /// transaction. Returns the stored binding.
    fn commit_binding(
        &self,
        tenant: &str,
        request: &BindingRequest,
        pins: &BTreeMap<ProviderKind, Pin>,
        created_at: i64,
        created_by: &str,
        audit: &dyn Fn(Option<&BindingRecord>) -> AuditEvent,
    ) -> Result<BindingRecord>;
    /// Makes the newest binding older than the current one current, and
    /// writes `audit(from, to)` (binding ids); writes nothing unless `Done`.
    fn rollback_binding(&self, tenant: &str, audit: &dyn Fn(i64, i64) -> AuditEvent) -> Result<Rollback>;
    /// A tenant with its current binding.
    fn tenant(&self, tenant: &str) -> Result<Option<TenantRecord>>;
    /// Every tenant id, sorted.
    fn tenant_ids(&self) -> Result<Vec<String>>;
    /// A tenant's bindings, newest first.
    fn binding_history(&self, tenant: &str) -> Result<Vec<BindingRecord>>;
}

fn check_tenant_id(tenant: &str) -> Result<()> {
    if !valid_tenant_id(tenant) {
        return Err(Error::InvalidInput(format!(
            "tenant id {tenant:?} is not valid: use lowercase letters, digits and '-', at most 64 characters"
        )));
    }
    Ok(())
}

pub(crate) fn plan_binding(
    rows: &dyn PluginRows,
    tenant: &str,
    request: &BindingRequest,
    host: &HostContract,
) -> Result<BTreeMap<ProviderKind, Pin>> {
    check_tenant_id(tenant)?;
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
        let v = plugins::resolve(rows, &k.plugin, &req, kind, host)?;
        pins.insert(kind, Pin { plugin: v.name, version: v.version, sha256: v.sha256, requirement: k.version.clone() });
    }
    if pins.is_empty() {
        return Err(Error::InvalidInput("a binding needs at least one of erp, crm, pim".into()));
    }
    Ok(pins)
}

pub(crate) fn commit_binding(
    rows: &dyn BindingRows,
    tenant: &str,
    request: &BindingRequest,
    pins: &BTreeMap<ProviderKind, Pin>,
    actor: &str,
) -> Result<BindingRecord> {
    check_tenant_id(tenant)?;
    let audit =
        |before: Option<&BindingRecord>| AuditEvent::new(actor, "bind", tenant, &bind_detail(before, pins, request));
    rows.commit_binding(tenant, request, pins, now_ms(), actor, &audit)
}

/// What a bind changed, for its audit entry: each kind whose pin changed
/// (`erp: a@1.0.0 -> a@1.1.0`, `(none)` for a kind added or dropped), the
/// config keys added, changed and removed (`config: +k ~k -k`: names only,
/// since values may be secrets), and the socket grant.
fn bind_detail(before: Option<&BindingRecord>, pins: &BTreeMap<ProviderKind, Pin>, request: &BindingRequest) -> String {
    let pin = |p: Option<&Pin>| p.map_or_else(|| "(none)".to_string(), |p| format!("{}@{}", p.plugin, p.version));
    let mut parts = Vec::new();
    for kind in ProviderKind::ALL {
        let (old, new) = (before.and_then(|b| b.pins.get(&kind)), pins.get(&kind));
        if old.map(|p| (&p.plugin, &p.version)) != new.map(|p| (&p.plugin, &p.version)) {
            parts.push(format!("{kind}: {} -> {}", pin(old), pin(new)));
        }
    }
    let empty = BTreeMap::new();
    let old_config = before.map_or(&empty, |b| &b.config);
    let mut keys = Vec::new();
    for (k, v) in &request.config {
        match old_config.get(k) {
            None => keys.push(format!("+{k}")),
            Some(old) if old != v => keys.push(format!("~{k}")),
            Some(_) => {}
        }
    }
    keys.extend(old_config.keys().filter(|k| !request.config.contains_key(*k)).map(|k| format!("-{k}")));
    if !keys.is_empty() {
        parts.push(format!("config: {}", keys.join(" ")));
    }
    let old_socket = before.and_then(|b| b.socket.as_deref());
    if old_socket != request.socket.as_deref() {
        parts.push(format!(
            "socket: {} -> {}",
            old_socket.unwrap_or("(none)"),
            request.socket.as_deref().unwrap_or("(none)")
        ));
    }
    if parts.is_empty() { "no change (same pins, config and socket)".to_string() } else { parts.join("; ") }
}

pub(crate) fn rollback(rows: &dyn BindingRows, tenant: &str, actor: &str) -> Result<BindingRecord> {
    let audit = |from: i64, to: i64| AuditEvent::new(actor, "rollback", tenant, &format!("binding {from} -> {to}"));
    match rows.rollback_binding(tenant, &audit)? {
        Rollback::NoTenant => Err(Error::NotFound(format!("tenant {tenant} does not exist"))),
        Rollback::NoBinding => Err(Error::Conflict(format!("tenant {tenant} has no binding"))),
        Rollback::NoEarlier => Err(Error::Conflict(format!("tenant {tenant} has no earlier binding to roll back to"))),
        Rollback::Done(binding) => Ok(binding),
    }
}

/// Every tenant with its current binding, by id.
pub(crate) fn tenants(rows: &dyn BindingRows) -> Result<Vec<TenantRecord>> {
    // A tenant read separately from the id list may be gone; skip it.
    rows.tenant_ids()?.iter().filter_map(|id| rows.tenant(id).transpose()).collect()
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
    use crate::Registry;
    use crate::testutil::{host, info};

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

    #[test]
    fn bind_appends_history_and_rollback_moves_back() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let info = info("1.0.0", &[ProviderKind::Erp]);
        r.publish("p", "1.0.0", b"one", &info, "t").unwrap();
        r.publish("p", "1.1.0", b"two", &info, "t").unwrap();
        let request = |v: &str| BindingRequest {
            erp: Some(KindRequest { plugin: "p".into(), version: v.into() }),
            socket: Some("127.0.0.1:7001".into()),
            ..Default::default()
        };
        assert!(matches!(r.rollback("t", "op"), Err(Error::NotFound(_))));
        assert!(matches!(r.bind("T", &request("^1"), &host(), "op"), Err(Error::InvalidInput(_))));
        assert!(matches!(r.bind("t", &BindingRequest::default(), &host(), "op"), Err(Error::InvalidInput(_))));
        let first = r.bind("t", &request("=1.0.0"), &host(), "op").unwrap();
        assert!(matches!(r.rollback("t", "op"), Err(Error::Conflict(_))), "nothing before the first binding");
        let second = r.bind("t", &request("^1"), &host(), "op").unwrap();
        assert_eq!(second.pins[&ProviderKind::Erp].version, "1.1.0");
        assert_eq!(second.socket.as_deref(), Some("127.0.0.1:7001"));
        assert_eq!(r.tenant("t").unwrap().unwrap().binding.unwrap().id, second.id);
        assert_eq!(r.rollback("t", "op").unwrap(), first);
        assert_eq!(r.tenant("t").unwrap().unwrap().binding.unwrap(), first);
        // History keeps every binding; a rollback appends none.
        let history: Vec<i64> = r.binding_history("t").unwrap().iter().map(|b| b.id).collect();
        assert_eq!(history, [second.id, first.id]);
        assert_eq!(r.tenants().unwrap().len(), 1);
        assert_eq!(r.audit_log(1).unwrap()[0].detail, format!("binding {} -> {}", second.id, first.id));
    }

    #[test]
    fn a_bind_audits_what_changed_and_never_config_values() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let both = info("1.0.0", &[ProviderKind::Erp, ProviderKind::Crm]);
        r.publish("p", "1.0.0", b"one", &both, "t").unwrap();
        r.publish("p", "1.1.0", b"two", &both, "t").unwrap();
        let kind = |v: &str| Some(KindRequest { plugin: "p".into(), version: v.into() });
        let config = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let detail = |r: &Registry| r.audit_log(1).unwrap()[0].detail.clone();
        let first = BindingRequest {
            erp: kind("=1.0.0"),
            config: config(&[("password", "hunter2-secret"), ("mandant", "1")]),
            ..Default::default()
        };
        r.bind("t", &first, &host(), "op").unwrap();
        assert_eq!(detail(&r), "erp: (none) -> p@1.0.0; config: +mandant +password");
        let second = BindingRequest {
            erp: kind("^1"),
            crm: kind("=1.0.0"),
            config: config(&[("password", "other-secret"), ("timeout", "5")]),
            socket: Some("127.0.0.1:7001".into()),
            ..Default::default()
        };
        r.bind("t", &second, &host(), "op").unwrap();
        assert_eq!(
            detail(&r),
            "erp: p@1.0.0 -> p@1.1.0; crm: (none) -> p@1.0.0; config: ~password +timeout -mandant; \
             socket: (none) -> 127.0.0.1:7001"
        );
        r.bind("t", &second, &host(), "op").unwrap();
        assert_eq!(detail(&r), "no change (same pins, config and socket)");
        let log = r.audit_log(100).unwrap();
        assert!(log.iter().all(|e| !e.detail.contains("secret")), "config values never reach the audit log");
    }
}
