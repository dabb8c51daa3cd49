//! Storage: one SQLite file plus a content-addressed artifact directory.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction, so two writers never
//! interleave and a reader never sees half a change. Artifacts are written
//! temp → fsync → rename → fsync dir *before* the row that names them is
//! committed; at open, files no row names (left by a crash between the two)
//! and stray temp files are removed. So a row never lacks its file, and no
//! file outlives an interrupted publish.

use crate::{Error, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Numbered migrations, embedded in the binary; applied in order once each.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_idempotency.sql")),
    (3, include_str!("../migrations/0003_sync_state.sql")),
    (4, include_str!("../migrations/0004_idempotency_bounds.sql")),
];

/// The registry. One connection behind a mutex: SQLite serializes writers
/// anyway, every statement here is short, and a single connection makes
/// `BEGIN IMMEDIATE` trivially safe under the multi-threaded server.
pub struct Registry {
    conn: Mutex<Connection>,
    artifacts: PathBuf,
}

impl Registry {
    /// Opens (creating if needed) the registry under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let io = |what: &str, e: std::io::Error| Error::Io(format!("{what}: {e}"));
        std::fs::create_dir_all(data_dir).map_err(|e| io(&data_dir.display().to_string(), e))?;
        let artifacts = data_dir.join("artifacts");
        std::fs::create_dir_all(&artifacts).map_err(|e| io(&artifacts.display().to_string(), e))?;
        let mut conn = Connection::open(data_dir.join("registry.sqlite3"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        let registry = Self { conn: Mutex::new(conn), artifacts };
        registry.sweep()?;
        Ok(registry)
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (the transaction rolls back on drop), so a poisoned lock is safe
        // to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction; commits if it succeeds.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    pub(crate) fn artifact_path(&self, sha256: &str) -> PathBuf {
        self.artifacts.join(&sha256[..2]).join(format!("{sha256}.wasm"))
    }

    /// Stores bytes under their digest. Returns whether a new file was
    /// written (so a failed publish can remove exactly what it added).
    pub(crate) fn put_artifact(&self, sha256: &str, bytes: &[u8]) -> Result<bool> {
        let path = self.artifact_path(sha256);
        if path.exists() {
            return Ok(false);
        }
        let dir = path.parent().expect("artifact path has a parent");
        std::fs::create_dir_all(dir).map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
        write_atomic(&path, bytes).map_err(Error::Io)?;
        Ok(true)
    }

    pub(crate) fn remove_artifact(&self, sha256: &str) {
        let _ = std::fs::remove_file(self.artifact_path(sha256));
    }

    /// Reads an artifact by digest and checks it still hashes to it.
    pub fn artifact(&self, sha256: &str) -> Result<Vec<u8>> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidInput(format!("{sha256:?} is not a sha256 digest")));
        }
        let path = self.artifact_path(sha256);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("no artifact with sha256 {sha256}")),
            _ => Error::Io(format!("{}: {e}", path.display())),
        })?;
        let actual = crate::plugins::sha256_hex(&bytes);
        if actual != sha256 {
            return Err(Error::Corrupt(format!("artifact {sha256} hashes to {actual}")));
        }
        Ok(bytes)
    }

    /// Removes temp files and artifacts no version row refers to.
    fn sweep(&self) -> Result<()> {
        let referenced = self.referenced_digests()?;
        let Ok(shards) = std::fs::read_dir(&self.artifacts) else {
            return Ok(());
        };
        for shard in shards.flatten() {
            let path = shard.path();
            if !path.is_dir() {
                // Only shard directories belong here; anything else is a
                // leftover temp file.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            for f in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                let name = f.file_name().to_string_lossy().to_string();
                let keep = name.strip_suffix(".wasm").is_some_and(|d| referenced.contains(d));
                if !keep {
                    tracing_free_log(&format!("registry: removing unreferenced file {}", f.path().display()));
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
        Ok(())
    }

    /// Digests of every published version: what artifacts (and compiled
    /// forms of them) may exist.
    pub fn referenced_digests(&self) -> Result<std::collections::HashSet<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT DISTINCT sha256 FROM versions")?;
        Ok(stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<_>>()?)
    }

    /// Runs SQLite's own consistency check; "ok" when healthy.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.conn().query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

fn tracing_free_log(msg: &str) {
    // The registry stays free of a logging dependency; these lines are rare
    // (crash recovery only) and go to stderr.
    eprintln!("{msg}");
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    for (version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: Option<i64> = tx
            .query_row("SELECT version FROM schema_migrations WHERE version = ?1", [version], |r| r.get(0))
            .optional()?;
        if done.is_none() {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                (version, crate::now_ms()),
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

/// temp → fsync → rename → fsync dir, so a crash never leaves a partly
/// written file under the final name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let dir = path.parent().ok_or_else(|| format!("{} has no parent directory", path.display()))?;
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), unique()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("{}: {e}", path.display()))
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) ^ (crate::now_ms() as u64).rotate_left(20)
}
