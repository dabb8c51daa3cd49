//! [`Registry`]: the one type the host uses. Each method states the
//! operation; the rules are in the concern modules, the rows behind
//! [`Backend`], the files in [`Artifacts`]. This file is the public API in
//! one list and holds no rules of its own.

use crate::artifacts::Artifacts;
use crate::audit::AuditEntry;
use crate::backend::Backend;
use crate::bindings::{self, BindingRecord, BindingRequest, Pin, TenantRecord};
use crate::idempotency::{self, IdempotencyBegin, IdempotencyLimits, IdempotencyStored, RecordKey};
use crate::inspect::{ComponentInfo, HostContract};
use crate::keys::{self, ApiKey};
use crate::plugins::{self, PluginSummary, PublishOutcome, VersionRecord};
use crate::sqlite::Sqlite;
use crate::sync_state::{self, SyncEntry, SyncSummary};
use crate::{ProviderKind, Result};
use semver::VersionReq;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// The registry: rows in a storage backend (`backend.rs`), artifacts in a
/// directory.
pub struct Registry {
    rows: Box<dyn Backend>,
    pub(crate) artifacts: Artifacts,
}

impl Registry {
    /// Opens (creating if needed) the registry under `data_dir`: SQLite in
    /// `registry.sqlite3`, artifacts in `artifacts/`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| crate::Error::Io(format!("{}: {e}", data_dir.display())))?;
        let artifacts = Artifacts::open(data_dir.join("artifacts"))?;
        let rows = Sqlite::open(&data_dir.join("registry.sqlite3"))?;
        Self::with_backend(Box::new(rows), artifacts)
    }

    /// A registry over any backend; removes artifacts no row names (left by
    /// a crash between writing a file and committing its row).
    pub(crate) fn with_backend(rows: Box<dyn Backend>, artifacts: Artifacts) -> Result<Self> {
        artifacts.sweep(&rows.referenced_digests()?);
        Ok(Self { rows, artifacts })
    }

    /// Reads an artifact by digest and checks it still hashes to it.
    pub fn artifact(&self, sha256: &str) -> Result<Vec<u8>> {
        self.artifacts.read(sha256)
    }

    /// Digests of every published version: what artifacts (and compiled
    /// forms of them) may exist.
    pub fn referenced_digests(&self) -> Result<HashSet<String>> {
        self.rows.referenced_digests()
    }

    /// Runs the store's own consistency check; "ok" when healthy.
    pub fn integrity_check(&self) -> Result<String> {
        self.rows.integrity_check()
    }

    // Plugins and versions (`plugins.rs`).

    /// Publishes `bytes` as `name@version`. `info` comes from
    /// [`crate::inspect()`] and must already have passed the host's checks.
    /// Same bytes again is [`PublishOutcome::Unchanged`]; other bytes under
    /// an existing version is a conflict.
    pub fn publish(
        &self,
        name: &str,
        version: &str,
        bytes: &[u8],
        info: &ComponentInfo,
        actor: &str,
    ) -> Result<PublishOutcome> {
        plugins::publish(&*self.rows, &self.artifacts, name, version, bytes, info, actor)
    }

    /// One version, if published.
    pub fn version(&self, name: &str, version: &str) -> Result<Option<VersionRecord>> {
        self.rows.version(name, version)
    }

    /// All versions of a plugin, newest (by semver) first.
    pub fn versions(&self, name: &str) -> Result<Vec<VersionRecord>> {
        plugins::versions(&*self.rows, name)
    }

    /// Every plugin with its versions.
    pub fn plugins(&self) -> Result<Vec<PluginSummary>> {
        plugins::plugins(&*self.rows)
    }

    /// Sets or clears the yanked flag. Yanked versions are skipped by
    /// resolution but stay downloadable and keep running where pinned.
    pub fn set_yanked(&self, name: &str, version: &str, yanked: bool, actor: &str) -> Result<VersionRecord> {
        plugins::set_yanked(&*self.rows, name, version, yanked, actor)
    }

    /// The highest non-yanked version of `name` that matches `req`, exports
    /// `kind` and is compatible with `host`.
    pub fn resolve(
        &self,
        name: &str,
        req: &VersionReq,
        kind: ProviderKind,
        host: &HostContract,
    ) -> Result<VersionRecord> {
        plugins::resolve(&*self.rows, name, req, kind, host)
    }

    // Tenants and bindings (`bindings.rs`).

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
        bindings::plan_binding(&*self.rows, tenant, request, host)
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
        bindings::commit_binding(&*self.rows, tenant, request, pins, actor)
    }

    /// Moves the tenant back to the binding before its current one.
    pub fn rollback(&self, tenant: &str, actor: &str) -> Result<BindingRecord> {
        bindings::rollback(&*self.rows, tenant, actor)
    }

    /// A tenant with its current binding.
    pub fn tenant(&self, tenant: &str) -> Result<Option<TenantRecord>> {
        self.rows.tenant(tenant)
    }

    /// Every tenant with its current binding, by id.
    pub fn tenants(&self) -> Result<Vec<TenantRecord>> {
        bindings::tenants(&*self.rows)
    }

    /// A tenant's binding history, newest first.
    pub fn binding_history(&self, tenant: &str) -> Result<Vec<BindingRecord>> {
        self.rows.binding_history(tenant)
    }

    // API keys (`keys.rs`).

    /// Stores a hash of `secret` as a new key of `tenant`.
    pub fn add_api_key(&self, tenant: &str, secret: &str, label: &str, actor: &str) -> Result<ApiKey> {
        keys::add_api_key(&*self.rows, tenant, secret, label, actor)
    }

    /// Revokes one key of `tenant`.
    pub fn revoke_api_key(&self, tenant: &str, id: &str, actor: &str) -> Result<ApiKey> {
        keys::revoke_api_key(&*self.rows, tenant, id, actor)
    }

    /// Keys of a tenant (metadata only).
    pub fn api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>> {
        self.rows.api_keys(tenant)
    }

    /// Every active key as (sha256 of the secret, tenant, key id); the host
    /// keeps these in memory to authenticate requests.
    pub fn active_key_hashes(&self) -> Result<Vec<(String, String, String)>> {
        self.rows.active_key_hashes()
    }

    // The audit log (`audit.rs`).

    /// The newest audit entries, newest first.
    pub fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        self.rows.audit_log(limit)
    }

    // Idempotency keys (`idempotency.rs`).

    /// Starts a request carrying an idempotency key: what to do with it.
    pub fn idempotency_begin(
        &self,
        tenant: &str,
        operation: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<IdempotencyBegin> {
        idempotency::begin(&*self.rows, RecordKey { tenant, operation, key }, fingerprint)
    }

    /// Records the answer of a request begun with `idempotency_begin`,
    /// within `limits`.
    pub fn idempotency_finish(
        &self,
        tenant: &str,
        operation: &str,
        key: &str,
        status: u16,
        body: &str,
        limits: IdempotencyLimits,
    ) -> Result<IdempotencyStored> {
        idempotency::finish(&*self.rows, RecordKey { tenant, operation, key }, status, body, limits)
    }

    /// Records that the request succeeded with `status` without keeping
    /// its answer (the host could not use it): replays get `Omitted`.
    pub fn idempotency_omit(&self, tenant: &str, operation: &str, key: &str, status: u16) -> Result<()> {
        self.rows.idempotency_omit(RecordKey { tenant, operation, key }, status)
    }

    /// Forgets a request that failed, so the caller may retry it.
    pub fn idempotency_abort(&self, tenant: &str, operation: &str, key: &str) -> Result<()> {
        self.rows.idempotency_abort(RecordKey { tenant, operation, key })
    }

    // Sync state (`sync_state.rs`).

    /// For each (id, hash): whether it differs from what was last synced.
    pub fn sync_changed(
        &self,
        tenant: &str,
        provider: &str,
        entity: &str,
        items: &[(String, String)],
    ) -> Result<Vec<bool>> {
        sync_state::changed(&*self.rows, tenant, provider, entity, items)
    }

    /// Records that these (id, hash) pairs were synced successfully now.
    pub fn sync_mark(&self, tenant: &str, provider: &str, entity: &str, items: &[(String, String)]) -> Result<()> {
        sync_state::mark(&*self.rows, tenant, provider, entity, items)
    }

    /// Per provider and entity: how many records are tracked and when the
    /// last one was synced (the tenant's sync cursors, for operators).
    pub fn sync_summary(&self, tenant: &str) -> Result<Vec<SyncSummary>> {
        self.rows.sync_summary(tenant)
    }

    /// Forgets what was synced for a tenant (all providers and entities), so
    /// the next sync sends every record again: after an ERP restore the
    /// stored hashes describe data the ERP no longer has. Returns how many
    /// records were forgotten; audited.
    pub fn sync_forget(&self, tenant: &str, actor: &str) -> Result<u64> {
        sync_state::forget(&*self.rows, tenant, actor)
    }

    /// The mapping of one record, if it was ever synced.
    pub fn sync_entry(&self, tenant: &str, provider: &str, entity: &str, b2c_id: &str) -> Result<Option<SyncEntry>> {
        self.rows.sync_entry(tenant, provider, entity, b2c_id)
    }
}
