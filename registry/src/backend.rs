//! The storage seam: how the registry's rows are stored, apart from what the
//! registry does with them.
//!
//! The rules (valid names and versions, immutability, semver resolution,
//! compatibility with the host, binding validation, key hashing, the
//! idempotency decision table, which audit entry a change writes) live in
//! the concern modules and run the same over any backend. A backend stores
//! rows, one trait per concern, each declared next to its rules:
//!
//! | trait | module | rows |
//! |---|---|---|
//! | [`PluginRows`] | `plugins.rs` | plugins, versions |
//! | [`BindingRows`] | `bindings.rs` | tenants, binding history, current binding |
//! | [`KeyRows`] | `keys.rs` | API keys (hashes only) |
//! | [`AuditRows`] | `audit.rs` | reading the audit log |
//! | [`IdempotencyRows`] | `idempotency.rs` | idempotency records |
//! | [`SyncRows`] | `sync_state.rs` | sync state |
//!
//! and [`Backend`] bundles them with a health check. Today's one
//! implementation is `sqlite/` (one file, WAL, numbered migrations,
//! `BEGIN IMMEDIATE` for every write).
//!
//! **Transactions.** A method is one atomic change, never one table: a
//! change method takes the [`AuditEvent`] its rules chose and writes it in
//! the same transaction as the change, and a method whose decision depends
//! on what it reads (`rollback_binding`, `idempotency_begin`,
//! `idempotency_finish`, `sync_forget`, `insert_version`, `insert_api_key`
//! with its cap of active keys, `commit_binding` whose audit entry names
//! what the binding it replaces had) reads, decides
//! (through the callback it is given, where the rule is the registry's) and
//! writes in one transaction. So a backend never needs a transaction object
//! to cross the seam, and a reader never sees half a change.
//!
//! **What a PostgreSQL backend implements.** A `postgres/` module beside
//! `sqlite/` with the same schema (`migrations/` translated: `INTEGER
//! PRIMARY KEY AUTOINCREMENT` becomes `bigint GENERATED ALWAYS AS
//! IDENTITY`, JSON text may become `jsonb`), a type implementing the six
//! row traits and [`Backend`], and a constructor beside [`Registry::open`]
//! that hands it to `Registry::with_backend`. Each change method becomes
//! one `BEGIN … COMMIT`; the read-decide-write methods lock what they read
//! (`SELECT … FOR UPDATE` on the tenant row for `rollback_binding` and for
//! `insert_api_key`, whose count of active keys must not race; for
//! `idempotency_begin`, `INSERT … ON CONFLICT DO NOTHING` then `SELECT …
//! FOR UPDATE`, since a missing row cannot be locked; a unique violation on
//! `insert_version` answers with the stored digest). `integrity_check`
//! answers "ok" when a trivial query succeeds. Nothing outside the crate
//! changes: the host only sees [`Registry`].
//!
//! The artifact store (`artifacts.rs`, files by digest) is not part of this
//! seam: rows and files fail and recover differently (files first, rows
//! second, a sweep at open), and replicas sharing artifacts is a question
//! of its own.
//!
//! [`PluginRows`]: crate::plugins::PluginRows
//! [`BindingRows`]: crate::bindings::BindingRows
//! [`KeyRows`]: crate::keys::KeyRows
//! [`AuditRows`]: crate::audit::AuditRows
//! [`IdempotencyRows`]: crate::idempotency::IdempotencyRows
//! [`SyncRows`]: crate::sync_state::SyncRows
//! [`AuditEvent`]: crate::audit::AuditEvent
//! [`Registry`]: crate::Registry
//! [`Registry::open`]: crate::Registry::open

use crate::Result;
use crate::audit::AuditRows;
use crate::bindings::BindingRows;
use crate::idempotency::IdempotencyRows;
use crate::keys::KeyRows;
use crate::plugins::PluginRows;
use crate::sync_state::SyncRows;

/// Everything the registry stores in rows. `Send + Sync` because one
/// registry serves the whole multi-threaded server.
pub(crate) trait Backend:
    PluginRows + BindingRows + KeyRows + AuditRows + IdempotencyRows + SyncRows + Send + Sync
{
    /// The store's own consistency check; "ok" when healthy.
    fn integrity_check(&self) -> Result<String>;
}
