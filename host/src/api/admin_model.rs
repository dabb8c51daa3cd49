//! The operator API's answers: one convention for all of them (camelCase
//! fields, RFC 3339 UTC timestamps), each a typed schema in the OpenAPI
//! document. The registry's records stay storage types (epoch milliseconds,
//! snake_case); this is the only place they become JSON for operators.

use super::model::format_ts;
use crate::runtime::host_contract;
use b2c_registry::{ApiKey, AuditEntry, BindingRecord, PluginSummary, SyncSummary, TenantRecord, VersionRecord};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A published version, with whether this host can run it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub name: String,
    pub version: String,
    /// Hex SHA-256 of the component's bytes.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    pub contract_version: String,
    /// Provider kinds the component exports (`erp`, `crm`, `pim`).
    pub exports: Vec<String>,
    /// Interfaces the component imports (WIT and WASI).
    pub imports: Vec<String>,
    pub compatible_with_host: bool,
    pub yanked: bool,
    #[schema(format = DateTime)]
    pub published_at: String,
    pub published_by: String,
}

impl From<&VersionRecord> for Version {
    fn from(v: &VersionRecord) -> Self {
        let contract = host_contract();
        Self {
            name: v.name.clone(),
            version: v.version.clone(),
            sha256: v.sha256.clone(),
            size: v.size,
            contract_version: v.contract_version.clone(),
            exports: v.exports.iter().map(|k| k.as_str().to_string()).collect(),
            imports: v.imports.clone(),
            compatible_with_host: semver::Version::parse(&v.contract_version).is_ok_and(|c| contract.accepts(&c)),
            yanked: v.yanked,
            published_at: format_ts(v.published_at),
            published_by: v.published_by.clone(),
        }
    }
}

/// A plugin and its version numbers, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginSummaryView {
    pub name: String,
    pub versions: Vec<String>,
    /// The newest version that is not yanked.
    pub latest: Option<String>,
    /// The yanked ones among `versions`.
    pub yanked: Vec<String>,
}

/// `GET /admin/v1/plugins`.
#[derive(Serialize, ToSchema)]
pub struct PluginList {
    pub plugins: Vec<PluginSummaryView>,
}

impl PluginList {
    pub fn new(plugins: Vec<PluginSummary>) -> Self {
        let plugins = plugins
            .into_iter()
            .map(|p| PluginSummaryView { name: p.name, versions: p.versions, latest: p.latest, yanked: p.yanked })
            .collect();
        Self { plugins }
    }
}

/// `GET /admin/v1/plugins/{name}`: every version, newest first.
#[derive(Serialize, ToSchema)]
pub struct Plugin {
    pub name: String,
    pub versions: Vec<Version>,
}

/// A pinned plugin version of one provider kind.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pin {
    pub plugin: String,
    pub version: String,
    pub sha256: String,
    /// The semver requirement it was resolved from.
    pub requirement: String,
}

/// One binding of a tenant: the pins per kind, the plugin settings and the
/// socket grant.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    pub id: i64,
    pub tenant: String,
    /// Keyed by provider kind (`erp`, `crm`, `pim`).
    pub pins: BTreeMap<String, Pin>,
    pub config: BTreeMap<String, String>,
    /// The granted container endpoint (`host:port`), if any.
    pub socket: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub created_by: String,
}

impl From<BindingRecord> for Binding {
    fn from(b: BindingRecord) -> Self {
        let pins = b
            .pins
            .into_iter()
            .map(|(k, p)| {
                let pin = Pin { plugin: p.plugin, version: p.version, sha256: p.sha256, requirement: p.requirement };
                (k.as_str().to_string(), pin)
            })
            .collect();
        Self {
            id: b.id,
            tenant: b.tenant,
            pins,
            config: b.config,
            socket: b.socket,
            created_at: format_ts(b.created_at),
            created_by: b.created_by,
        }
    }
}

/// A tenant and its current binding.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantSummary {
    pub id: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub binding: Option<Binding>,
}

impl From<TenantRecord> for TenantSummary {
    fn from(t: TenantRecord) -> Self {
        Self { id: t.id, created_at: format_ts(t.created_at), binding: t.binding.map(Into::into) }
    }
}

/// `GET /admin/v1/tenants`.
#[derive(Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantSummary>,
}

/// An API key's metadata (never the secret).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    pub id: String,
    pub tenant: String,
    pub label: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub revoked_at: Option<String>,
}

impl From<ApiKey> for Key {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            tenant: k.tenant,
            label: k.label,
            created_at: format_ts(k.created_at),
            revoked_at: k.revoked_at.map(format_ts),
        }
    }
}

/// `GET /admin/v1/tenants/{tenant}/api-keys`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyList {
    pub api_keys: Vec<Key>,
}

/// `POST /admin/v1/tenants/{tenant}/api-keys`: the secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    pub id: String,
    pub tenant: String,
    pub label: String,
    /// The bearer secret; only its hash is stored.
    pub key: String,
}

/// `DELETE /admin/v1/tenants/{tenant}/api-keys/{key_id}`.
#[derive(Serialize, ToSchema)]
pub struct RevokedKey {
    pub id: String,
    pub tenant: String,
    pub revoked: bool,
}

/// What was last synced to a tenant's ERP, per provider and entity.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncState {
    pub provider: String,
    pub entity: String,
    pub records: u64,
    #[schema(format = DateTime)]
    pub last_sync_at: String,
}

impl From<SyncSummary> for SyncState {
    fn from(s: SyncSummary) -> Self {
        Self { provider: s.provider, entity: s.entity, records: s.records, last_sync_at: format_ts(s.last_sync_at) }
    }
}

/// `GET /admin/v1/tenants/{tenant}` (and the answer of bind and rollback).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub tenant: String,
    /// The live actors of the current binding (one per distinct plugin).
    pub providers: Vec<ProviderState>,
    pub binding: Option<Binding>,
    /// Every binding, newest first.
    pub history: Vec<Binding>,
    pub api_keys: Vec<Key>,
    pub sync: Vec<SyncState>,
}

/// One audit log entry.
/// A live tenant actor, as `/readyz` reports it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderState {
    pub kinds: Vec<String>,
    pub plugin: String,
    /// `idle`, `busy` or `stuck` (running past its call timeout).
    pub state: String,
    /// `open` while calls fail fast after repeated backend failures.
    pub breaker: String,
    pub queue_depth: u64,
    pub calls: u64,
    pub restarts: u64,
    /// The newest failure on the provider's side (trap, timeout, backend
    /// unavailable, contract breach, full queue), if any since activation.
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub last_error_at: Option<String>,
}

impl From<crate::actor::Status> for ProviderState {
    fn from(s: crate::actor::Status) -> Self {
        Self {
            kinds: s.kinds.iter().map(|k| k.as_str().to_string()).collect(),
            plugin: s.plugin,
            state: s.state.to_string(),
            breaker: if s.breaker_open { "open" } else { "closed" }.to_string(),
            queue_depth: s.queue_depth as u64,
            calls: s.calls,
            restarts: s.restarts,
            last_error_at: s.last_error.as_ref().map(|(at, _)| format_ts(*at)),
            last_error: s.last_error.map(|(_, m)| m),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Audit {
    pub id: i64,
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

impl From<AuditEntry> for Audit {
    fn from(e: AuditEntry) -> Self {
        Self { id: e.id, at: format_ts(e.at), actor: e.actor, action: e.action, subject: e.subject, detail: e.detail }
    }
}

/// `GET /admin/v1/audit`: newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditList {
    pub entries: Vec<Audit>,
}

/// `POST /admin/v1/tenants/{tenant}/cache/invalidate`.
#[derive(Serialize, ToSchema)]
pub struct CacheInvalidated {
    pub tenant: String,
    pub invalidated: bool,
}

/// `POST /admin/v1/tenants/{tenant}/sync/reset`.
#[derive(Serialize, ToSchema)]
pub struct SyncReset {
    pub tenant: String,
    /// Delta-state entries forgotten.
    pub forgotten: u64,
}

/// `PUT /admin/v1/tenants/{tenant}` body: per provider kind a plugin and a
/// semver requirement (at least one kind), the plugin settings (strings,
/// numbers or booleans; plugins read them as strings) and the socket grant.
/// Written by hand because "at least one kind" is an `anyOf` the derive
/// cannot say.
pub struct BindRequestDoc;

impl utoipa::PartialSchema for BindRequestDoc {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, AllOfBuilder, AnyOfBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type,
        };
        let nullable = |t: Type| SchemaType::from_iter([t, Type::Null]);
        let kind = || {
            ObjectBuilder::new()
                .schema_type(nullable(Type::Object))
                .property(
                    "plugin",
                    ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[a-z]([a-z0-9-]{0,62}[a-z0-9])?$")),
                )
                .required("plugin")
                .property(
                    "version",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some("A semver requirement: ^1, ~1.2, =1.2.3, >=1, <2, *")),
                )
                .required("version")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        let value = OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::Boolean));
        let body = ObjectBuilder::new()
            .property("erp", kind())
            .property("crm", kind())
            .property("pim", kind())
            .property(
                "config",
                ObjectBuilder::new()
                    .additional_properties(Some(AdditionalProperties::RefOr(
                        utoipa::openapi::schema::Schema::OneOf(value.build()).into(),
                    )))
                    .description(Some("Plugin settings; `limits.*` keys set the tenant's host limits")),
            )
            .property(
                "socket",
                ObjectBuilder::new()
                    .schema_type(nullable(Type::String))
                    .description(Some("The container endpoint the plugin may connect to, `host:port`")),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let some_kind = AnyOfBuilder::new()
            .item(ObjectBuilder::new().required("erp"))
            .item(ObjectBuilder::new().required("crm"))
            .item(ObjectBuilder::new().required("pim"));
        AllOfBuilder::new().item(body).item(some_kind).into()
    }
}
impl ToSchema for BindRequestDoc {}
