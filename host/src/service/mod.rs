//! The host's workflows, used by the admin and tenant APIs and by start-up
//! alike, so each is written once: `publish` (check, compile, record a
//! component), `bind` (resolve, load, commit, activate a tenant's
//! binding), `orders` (order creation under the idempotency protocol) and
//! `sync` (delta sync: only changed records reach the plugin).
//!
//! A workflow knows nothing of HTTP: it fails with [`ServiceError`], which
//! the API maps to problem+json (`api::problem`) and start-up to a start
//! error. It acts on a [`Ctx`]: the registry, the runtime and the cache.

pub mod bind;
pub mod orders;
pub mod publish;
pub mod sync;

use crate::actor::CallError;
use crate::cache::ResponseCache;
use crate::runtime::Runtime;
use b2c_registry::Registry;

/// What the workflows act on, borrowed from the HTTP state or from start-up.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub registry: &'a Registry,
    pub runtime: &'a Runtime,
    pub cache: &'a ResponseCache,
}

/// Why a workflow did not complete. Each variant is one kind of answer a
/// caller can act on; nothing was written when a workflow fails before its
/// commit step (each step's doc says which).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is well-formed but not acceptable (422).
    #[error("{0}")]
    Invalid(String),
    /// The uploaded component cannot be published (422).
    #[error("{0}")]
    InvalidComponent(String),
    /// The uploaded component fails the provider conformance check that
    /// `serve --require-conformance` runs at publish (422).
    #[error("{0}")]
    Nonconformant(String),
    /// The upload's bytes do not hash to the digest the caller claimed (422).
    #[error("{0}")]
    DigestMismatch(String),
    /// The request conflicts with what is recorded (409); `retry_after` when
    /// waiting resolves it (an earlier request still in progress).
    #[error("{detail}")]
    Conflict { detail: String, retry_after: Option<u64> },
    /// The plugin answered something the host cannot map back onto the
    /// request (502).
    #[error("{0}")]
    ProviderBroke(String),
    /// The host failed (500); logged, never shown to the caller.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Registry(#[from] b2c_registry::Error),
    #[error(transparent)]
    Call(#[from] CallError),
}

impl ServiceError {
    pub fn conflict(detail: impl Into<String>) -> Self {
        ServiceError::Conflict { detail: detail.into(), retry_after: None }
    }
}

/// The result of a workflow.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
