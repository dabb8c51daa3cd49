//! Tenant actors: one per tenant × provider kind (DESIGN key decision 3).
//!
//! A cloneable [`ProviderHandle`] sends jobs over a *bounded* channel to one
//! task that alone owns the wasmtime `Store`, so calls into one tenant's
//! plugin run strictly one at a time (the enventa ERP is not thread-safe)
//! while different tenants run in parallel. A full queue is answered at once
//! with [`CallError::Overloaded`]; the HTTP handler never waits for room.
//!
//! The instance is created on the first call (and its `lifecycle.init`
//! run, contract 1.1) and thrown away when a call traps or overruns its
//! wall-clock deadline; the next call gets a fresh one. The task ends when
//! every handle is gone and the queue is drained, after
//! `lifecycle.shutdown` on its instance: that is how a binding swap drains
//! the old plugin while new calls go to the new, and how the plugin hears
//! that its sessions should end.
//!
//! One module per job, each using only those listed after it:
//! - `provider.rs`: [`Provider`], the typed facade, one method per WIT
//!   operation, each answer checked against the contract.
//! - `handle.rs`: [`ProviderHandle`]: spawn, call (never waiting for queue
//!   room), queue depth, breaker state.
//! - `task.rs`: the task loop: jobs, serialization, timeouts, discarding
//!   the instance after a trap or timeout, counters.
//! - `instance.rs`: building the Store and instance for a spec; the live
//!   instance and its stream cursors.
//! - `breaker.rs`: the circuit breaker.
//! - `spec.rs`: what an actor runs ([`ActorSpec`], [`PluginRef`]) and its
//!   bounds ([`ActorSettings`]); `stats.rs`: [`ActorStats`];
//!   `error.rs`: [`CallError`] and trap-message truncation.

mod breaker;
mod error;
mod handle;
mod instance;
mod output;
mod provider;
mod spec;
mod stats;
mod task;

pub use error::CallError;
pub use handle::{ActorControl, ProviderHandle};
pub use provider::{Provider, Status};
pub use spec::{ActorSettings, ActorSpec, PluginRef};
pub use stats::{ActorStats, now_ms};
pub use task::{SHUTDOWN_TIMEOUT, SHUTDOWN_WAIT};
