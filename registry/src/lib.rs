//! The local plugin registry: which provider plugins exist, in which
//! versions, and which tenant runs which.
//!
//! Tour:
//! - `registry.rs`: [`Registry`], the one type the host uses; its methods
//!   are the whole public API, each a line that hands over to a concern.
//! - Concerns, each with its types, its rules and the row trait it needs
//!   from a storage backend:
//!   - `plugins.rs`: publish (immutable versions), list, show, yank, semver
//!     resolution.
//!   - `bindings.rs`: tenants and their bindings, with history and
//!     rollback.
//!   - `keys.rs`: tenant API keys, stored hashed.
//!   - `audit.rs`: the audit log; every change writes its entry in the
//!     change's own transaction.
//!   - `idempotency.rs`: idempotency keys of write routes, durable.
//!   - `sync_state.rs`: what was last synced to each tenant's ERP (delta
//!     sync).
//! - `backend.rs`: the storage seam (its module docs say what a second
//!   backend, e.g. PostgreSQL, implements); `sqlite/`: the one backend
//!   today (WAL, numbered migrations embedded from `migrations/`, `BEGIN
//!   IMMEDIATE` for every write), one file per row trait.
//! - `artifacts.rs`: the content-addressed artifact directory, apart from
//!   the rows; `atomic_file.rs`: temp → fsync → rename → fsync dir, which
//!   the artifact store and the host share.
//! - `inspect.rs`: reads a WebAssembly component's imports and exports
//!   without running it, and checks it against the host's contract.
//!
//! Modules depend one way: concerns on `audit`, `inspect` and
//! `artifacts`; `backend` on the concerns; `sqlite` on both; `registry` on
//! everything. This file holds only what all of them share (the error, the
//! provider kinds, the clock and the digest).
//!
//! The registry knows nothing about wasmtime: it stores, checks and resolves;
//! the host compiles and runs.

mod artifacts;
pub mod atomic_file;
mod audit;
mod backend;
mod bindings;
mod idempotency;
mod inspect;
mod keys;
mod plugins;
mod registry;
mod sqlite;
mod sync_state;
#[cfg(test)]
mod testutil;

pub use audit::AuditEntry;
pub use bindings::{BindingRecord, BindingRequest, KindRequest, Pin, TenantRecord, valid_tenant_id};
pub use idempotency::{IdempotencyBegin, IdempotencyLimits, IdempotencyStored};
pub use inspect::{ComponentInfo, HostContract, Incompatible, InvalidComponent, inspect};
pub use keys::{ApiKey, MAX_ACTIVE_KEYS};
pub use plugins::{PluginSummary, PublishOutcome, VersionRecord, valid_plugin_name};
pub use registry::Registry;
pub use sync_state::{SyncEntry, SyncSummary};

use std::fmt;
use std::str::FromStr;

/// Errors at the registry's boundary. Each variant is a distinct answer for
/// an operator (the host maps them to HTTP statuses).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidInput(String),
    #[error(transparent)]
    InvalidComponent(#[from] InvalidComponent),
    #[error(transparent)]
    Incompatible(#[from] Incompatible),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("artifact store: {0}")]
    Io(String),
    #[error("registry data is inconsistent: {0}")]
    Corrupt(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The three provider interfaces of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Erp,
    Crm,
    Pim,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [ProviderKind::Erp, ProviderKind::Crm, ProviderKind::Pim];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Erp => "erp",
            ProviderKind::Crm => "crm",
            ProviderKind::Pim => "pim",
        }
    }

    /// The WIT interface name a component exports for this kind.
    pub fn interface(self) -> &'static str {
        match self {
            ProviderKind::Erp => "erp-provider",
            ProviderKind::Crm => "crm-provider",
            ProviderKind::Pim => "pim-provider",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "erp" => Ok(ProviderKind::Erp),
            "crm" => Ok(ProviderKind::Crm),
            "pim" => Ok(ProviderKind::Pim),
            other => Err(Error::InvalidInput(format!("unknown provider kind {other:?} (expected erp, crm or pim)"))),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Lowercase hex sha256: artifact names and stored key hashes.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
