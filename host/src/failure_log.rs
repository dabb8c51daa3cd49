//! The host's own log lines about failed calls and requests (a 5xx, a
//! plugin's trap, a discarded instance) go through one host-wide token
//! bucket, so a caller cannot make the log grow at its request rate.
//!
//! Without it every failed request wrote at least one line: a client
//! hammering a tenant whose breaker is open (each answer a fast 503) wrote
//! as many lines per second as it sent requests. A plugin's own log lines
//! have their per-tenant budget (`capabilities::log`); these are the
//! host's, so they have one for the host. Lines over the budget are
//! counted, not written: `erp_provider_failure_log_dropped` on `/metrics`,
//! and the next written line says how many went before it
//! (`suppressed=N`). The requests themselves are all counted in the
//! request metrics and the figures, so nothing an operator graphs is lost.

use crate::capabilities::log::LogLimit;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Failure lines written per second, on average.
pub const LINES_PER_SEC: u32 = 50;
/// Failure lines written at once after a quiet spell.
pub const LINES_BURST: u32 = 200;

struct Budget {
    limit: LogLimit,
    /// Lines dropped since the last one written.
    since_written: AtomicU64,
}

static BUDGET: LazyLock<Budget> =
    LazyLock::new(|| Budget { limit: LogLimit::new(LINES_PER_SEC, LINES_BURST), since_written: AtomicU64::new(0) });

/// Writes a failure line with `line` if the budget has room, passing the
/// number of lines dropped since the last one written; counts it dropped
/// otherwise. `line` is not called (nothing is formatted) for a dropped line.
pub fn write(line: impl FnOnce(u64)) {
    let b = &*BUDGET;
    if b.limit.admit() {
        line(b.since_written.swap(0, Ordering::Relaxed));
    } else {
        b.since_written.fetch_add(1, Ordering::Relaxed);
    }
}

/// Failure lines dropped over the budget since the process started.
pub fn dropped() -> u64 {
    BUDGET.limit.dropped.load(Ordering::Relaxed)
}
