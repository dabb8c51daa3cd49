//! `b2connect:provider/log`: plugin log records into the host's tracing,
//! tagged with tenant and plugin by the host (the guest cannot forge them).
//!
//! A plugin's log is bounded three ways: each message is escaped and cut
//! (`untrusted::sanitize`: one record stays one line, no terminal escapes,
//! at most 4 KiB), each tenant has a token bucket of records per second
//! ([`LogLimit`], `limits.logPerSec` / `limits.logBurst`) whose overflow is
//! dropped and counted (`erp_provider_plugin_log_dropped`), and the bytes a
//! single `log` call can pass are capped by the answer limit (hostcall fuel).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::component::{HasSelf, Linker};
use wit::b2connect::provider::log::{Host, Level};

/// Bindings of this interface alone, so the module needs nothing of the
/// host's other bindings (wasmtime `wasi-config` does the same).
mod wit {
    wasmtime::component::bindgen!({
        path: "../wit/1.1.0",
        interfaces: "import b2connect:provider/log@1.1.0;",
        imports: { default: async | trappable },
    });
}

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

/// What the operator granted: who logs (fixed by the host, so the guest
/// cannot forge it) and the tenant's budget.
#[derive(Clone, Debug)]
pub struct Grant {
    pub tenant: String,
    pub plugin: String,
    pub limit: Arc<LogLimit>,
}

/// One instance's log: its grant, as the instance was created with it.
pub struct State {
    grant: Grant,
}

impl State {
    pub fn new(grant: &Grant) -> Self {
        Self { grant: grant.clone() }
    }
}

impl State {
    /// One record of what a call wrote to the WASI `stream` (stdout or
    /// stderr; `actor::output` keeps a bounded head per call), charged to
    /// the same budget as `log` records: stdout at info, stderr at warn.
    pub fn output(&self, stream: &'static str, text: &str, dropped: u64) {
        if !self.grant.limit.admit() {
            return;
        }
        let text = crate::untrusted::sanitize(text);
        let (tenant, plugin) = (&self.grant.tenant, &self.grant.plugin);
        match stream {
            "stderr" => tracing::warn!(target: "plugin", %tenant, %plugin, stream, dropped, "{text}"),
            _ => tracing::info!(target: "plugin", %tenant, %plugin, stream, dropped, "{text}"),
        }
    }
}

impl Host for State {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if !self.grant.limit.admit() {
            return Ok(());
        }
        let message = crate::untrusted::sanitize(&message);
        let (tenant, plugin) = (&self.grant.tenant, &self.grant.plugin);
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

/// Adds `log` to `linker`; `get` finds this capability's state in the
/// Store data.
pub fn add_to_linker<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut State) -> wasmtime::Result<()> {
    wit::b2connect::provider::log::add_to_linker::<T, HasSelf<State>>(linker, get)
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
