//! The local plugin registry: which provider plugins exist, in which
//! versions, and which tenant runs which.
//!
//! Tour:
//! - `store.rs`: the SQLite database (WAL, numbered migrations embedded from
//!   `migrations/`, `BEGIN IMMEDIATE` for every write) and the
//!   content-addressed artifact directory (temp → fsync → rename → fsync dir).
//! - `inspect.rs`: reads a WebAssembly component's imports and exports
//!   without running it, and checks it against the host's contract.
//! - `plugins.rs`: publish (immutable versions), list, show, yank, semver
//!   resolution.
//! - `idempotency.rs`: idempotency keys of write routes, durable.
//! - `sync_state.rs`: what was last synced to each tenant's ERP (delta sync).
//! - `tenants.rs`: tenant bindings with history and rollback, API keys
//!   (stored hashed), and the audit log.
//!
//! The registry knows nothing about wasmtime: it stores, checks and resolves;
//! the host compiles and runs.

mod idempotency;
mod inspect;
mod plugins;
mod store;
mod sync_state;
mod tenants;

pub use idempotency::{IdempotencyBegin, IdempotencyLimits, IdempotencyStored};
pub use inspect::{ComponentInfo, HostContract, Incompatible, InvalidComponent, inspect};
pub use plugins::{PluginSummary, PublishOutcome, VersionRecord, valid_plugin_name};
pub use store::{Registry, write_atomic};
pub use sync_state::{SyncEntry, SyncSummary};
pub use tenants::{ApiKey, AuditEntry, BindingRecord, BindingRequest, KindRequest, Pin, TenantRecord, valid_tenant_id};

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
