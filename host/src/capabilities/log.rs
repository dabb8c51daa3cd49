//! `b2connect:provider/log`: plugin log records into the host's tracing,
//! tagged with tenant and plugin by the host (the guest cannot forge them).
//!
//! A plugin's log is bounded three ways: each message is escaped and cut
//! (`untrusted::sanitize`: one record stays one line, no terminal escapes,
//! at most 4 KiB), each tenant has a token bucket of records per second
//! ([`LogLimit`], `limits.logPerSec` / `limits.logBurst`) whose overflow is
//! dropped and counted (`erp_provider_plugin_log_dropped`), and the bytes a
//! single `log` call can pass are capped by the answer limit (hostcall fuel).

use crate::bindings::b2connect::provider::log::{Host, Level, add_to_linker as add};
use crate::state::PluginState;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use wasmtime::component::{HasSelf, Linker};

/// A tenant's plugin-log budget: a token bucket shared by all its actors.
#[derive(Debug)]
pub struct LogLimit {
    per_sec: f64,
    burst: f64,
    bucket: Mutex<(f64, Instant)>,
    /// Records dropped over the budget since the host started.
    pub dropped: AtomicU64,
    /// Records written.
    pub written: AtomicU64,
}

impl LogLimit {
    pub fn new(per_sec: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            per_sec: f64::from(per_sec.max(1)),
            burst,
            bucket: Mutex::new((burst, Instant::now())),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }

    /// Whether this bucket was made for these settings.
    pub fn same_rate(&self, per_sec: u32, burst: u32) -> bool {
        self.per_sec == f64::from(per_sec.max(1)) && self.burst == f64::from(burst.max(1))
    }

    /// Takes one token, or counts a dropped record.
    pub fn admit(&self) -> bool {
        let mut b = self.bucket.lock().expect("log bucket lock");
        let now = Instant::now();
        let (tokens, at) = *b;
        let tokens = (tokens + now.duration_since(at).as_secs_f64() * self.per_sec).min(self.burst);
        if tokens >= 1.0 {
            *b = (tokens - 1.0, now);
            self.written.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            *b = (tokens, now);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// Who is logging: fixed by the host when the instance is created.
pub struct LogState {
    pub tenant: String,
    pub plugin: String,
    pub limit: std::sync::Arc<LogLimit>,
}

impl Host for LogState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if !self.limit.admit() {
            return Ok(());
        }
        let message = crate::untrusted::sanitize(&message);
        let (tenant, plugin) = (&self.tenant, &self.plugin);
        match level {
            Level::Trace => tracing::trace!(target: "plugin", %tenant, %plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", %tenant, %plugin, "{message}"),
            Level::Info => tracing::info!(target: "plugin", %tenant, %plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", %tenant, %plugin, "{message}"),
            Level::Error => tracing::error!(target: "plugin", %tenant, %plugin, "{message}"),
        }
        Ok(())
    }
}

pub fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    add::<PluginState, HasSelf<LogState>>(linker, |s| &mut s.log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_admits_its_burst_then_its_rate() {
        let l = LogLimit::new(1, 5);
        let admitted = (0..100).filter(|_| l.admit()).count();
        // 5 from the burst, plus whatever one record per second refilled
        // while the loop ran (well under a second).
        assert!((5..=6).contains(&admitted), "{admitted}");
        assert_eq!(l.dropped.load(Ordering::Relaxed) as usize, 100 - admitted);
        assert_eq!(l.written.load(Ordering::Relaxed) as usize, admitted);
    }
}
