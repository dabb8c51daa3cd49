//! Counters of one actor. Kept apart from the task that updates most of
//! them because the live instance keeps `open_cursors` in step too: both
//! `task.rs` and `instance.rs` use this module, neither uses the other's.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Milliseconds since the Unix epoch (for "busy since" stamps).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Counters of one actor (tenant × the kinds it serves).
#[derive(Default, Debug)]
pub struct ActorStats {
    pub queued: AtomicI64,
    pub calls: AtomicU64,
    pub restarts: AtomicU64,
    pub instances_created: AtomicU64,
    /// Calls currently inside the plugin (0 or 1 if serialization holds).
    pub in_call: AtomicI64,
    /// Largest `in_call` ever observed.
    pub max_in_call: AtomicI64,
    /// Times a call started while another one was inside the plugin.
    pub overlaps: AtomicU64,
    /// Stream cursors open in the instance right now.
    pub open_cursors: AtomicI64,
    /// When the running job (a call, or creating the instance) started, in
    /// ms since the epoch; 0 while idle. `/readyz` reports an actor busy
    /// for longer than its call timeout as stuck.
    pub busy_since_ms: AtomicU64,
    /// The newest call that failed on the provider's side (not the
    /// caller's: not-found, invalid input, conflict and unsupported are
    /// answers), as (ms since the epoch, message), for `tenant show`.
    pub last_error: std::sync::Mutex<Option<(i64, String)>>,
}

impl ActorStats {
    /// How long the running job has been running, if one is.
    pub fn busy_for(&self) -> Option<Duration> {
        let since = self.busy_since_ms.load(Ordering::Relaxed);
        (since != 0).then(|| Duration::from_millis(now_ms().saturating_sub(since as i64) as u64))
    }
}
