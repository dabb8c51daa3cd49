//! Live per-tenant request figures over a sliding window: requests per
//! second, p50/p99 latency and the share of failed (5xx) answers over the
//! last [`WINDOW_SECS`] seconds. `GET /admin/v1/stats` serves them with
//! the actor and cache figures, and `b2c-host top` draws them.
//!
//! Prometheus has the cumulative counters (`metrics.rs`); a live view needs
//! figures for *now*, which a scraper derives from deltas but a terminal
//! should not have to. Each tenant keeps one slot per second, each slot a
//! count, a 5xx count and a log-scale latency histogram (buckets 2^(1/4)
//! apart, so a percentile is within 19 % of the true value), so memory is
//! fixed per tenant (about 4 KiB) and recording is one lock of that
//! tenant's window. Only authenticated tenants are recorded (the request
//! middleware's tenant label), so callers cannot create entries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Seconds the live figures cover.
pub const WINDOW_SECS: u64 = 10;
/// Histogram buckets: bucket `i` holds latencies up to `MIN_LATENCY ×
/// 2^(i/4)`, so 96 buckets reach about 168 s from 10 µs.
const BUCKETS: usize = 96;
const MIN_LATENCY: f64 = 10e-6;

#[derive(Clone)]
struct Slot {
    /// Which second since `start` this slot holds; older data is stale.
    second: u64,
    requests: u32,
    errors: u32,
    latency: [u32; BUCKETS],
}

impl Slot {
    fn empty(second: u64) -> Self {
        Self { second, requests: 0, errors: 0, latency: [0; BUCKETS] }
    }
}

struct Window {
    slots: Vec<Slot>,
    total_requests: u64,
    total_errors: u64,
}

/// What [`Figures::snapshot`] reports for one tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantFigures {
    pub tenant: String,
    /// Requests per second over the window.
    pub requests_per_sec: f64,
    /// Latency percentiles over the window, in milliseconds (`None` without
    /// requests in it).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Share of 5xx answers over the window, 0 to 1.
    pub error_rate: f64,
    /// Since the host started.
    pub total_requests: u64,
    pub total_errors: u64,
}

/// Every tenant's window.
pub struct Figures {
    start: Instant,
    tenants: RwLock<HashMap<String, Arc<Mutex<Window>>>>,
}

impl Default for Figures {
    fn default() -> Self {
        Self::new()
    }
}

fn bucket(seconds: f64) -> usize {
    if seconds <= MIN_LATENCY {
        return 0;
    }
    ((seconds / MIN_LATENCY).log2() * 4.0).ceil().clamp(0.0, (BUCKETS - 1) as f64) as usize
}

/// The upper bound of bucket `i`, in milliseconds.
fn bucket_ms(i: usize) -> f64 {
    MIN_LATENCY * 2f64.powf(i as f64 / 4.0) * 1000.0
}

impl Figures {
    pub fn new() -> Self {
        Self { start: Instant::now(), tenants: RwLock::new(HashMap::new()) }
    }

    fn second(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_secs()
    }

    /// Records one answered request of `tenant`.
    pub fn record(&self, tenant: &str, status: u16, latency: Duration) {
        self.record_at(tenant, status, latency, Instant::now());
    }

    fn record_at(&self, tenant: &str, status: u16, latency: Duration, at: Instant) {
        let window = self.tenants.read().expect("figures lock").get(tenant).cloned();
        let window = match window {
            Some(w) => w,
            None => self
                .tenants
                .write()
                .expect("figures lock")
                .entry(tenant.to_string())
                .or_insert_with(|| {
                    Arc::new(Mutex::new(Window {
                        slots: vec![Slot::empty(u64::MAX); WINDOW_SECS as usize],
                        total_requests: 0,
                        total_errors: 0,
                    }))
                })
                .clone(),
        };
        let second = self.second(at);
        let mut w = window.lock().expect("window lock");
        let slot = &mut w.slots[(second % WINDOW_SECS) as usize];
        if slot.second != second {
            *slot = Slot::empty(second);
        }
        slot.requests += 1;
        slot.latency[bucket(latency.as_secs_f64())] += 1;
        let error = status >= 500;
        if error {
            slot.errors += 1;
        }
        w.total_requests += 1;
        w.total_errors += u64::from(error);
    }

    /// Every recorded tenant's figures over the last [`WINDOW_SECS`] full
    /// and current seconds, by tenant id.
    pub fn snapshot(&self) -> Vec<TenantFigures> {
        self.snapshot_at(Instant::now())
    }

    fn snapshot_at(&self, at: Instant) -> Vec<TenantFigures> {
        let now = self.second(at);
        let oldest = now.saturating_sub(WINDOW_SECS - 1);
        // The window is shorter than WINDOW_SECS right after start.
        let span = (at.saturating_duration_since(self.start).as_secs_f64()).clamp(1.0, WINDOW_SECS as f64);
        let tenants: Vec<(String, Arc<Mutex<Window>>)> =
            self.tenants.read().expect("figures lock").iter().map(|(t, w)| (t.clone(), w.clone())).collect();
        let mut out: Vec<TenantFigures> = tenants
            .into_iter()
            .map(|(tenant, w)| {
                let w = w.lock().expect("window lock");
                let live = w.slots.iter().filter(|s| s.second != u64::MAX && s.second >= oldest && s.second <= now);
                let (mut requests, mut errors, mut latency) = (0u64, 0u64, [0u64; BUCKETS]);
                for s in live {
                    requests += u64::from(s.requests);
                    errors += u64::from(s.errors);
                    for (sum, n) in latency.iter_mut().zip(s.latency) {
                        *sum += u64::from(n);
                    }
                }
                let percentile = |p: f64| {
                    let rank = ((requests as f64) * p).ceil().max(1.0) as u64;
                    let mut seen = 0;
                    latency.iter().position(|n| {
                        seen += n;
                        seen >= rank
                    })
                };
                TenantFigures {
                    tenant,
                    requests_per_sec: requests as f64 / span,
                    p50_ms: (requests > 0).then(|| percentile(0.50)).flatten().map(bucket_ms),
                    p99_ms: (requests > 0).then(|| percentile(0.99)).flatten().map(bucket_ms),
                    error_rate: if requests == 0 { 0.0 } else { errors as f64 / requests as f64 },
                    total_requests: w.total_requests,
                    total_errors: w.total_errors,
                }
            })
            .collect();
        out.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_within_a_fifth_of_the_latency() {
        for ms in [0.05, 0.3, 1.0, 7.5, 120.0, 4_000.0] {
            let b = bucket_ms(bucket(ms / 1000.0));
            assert!(b >= ms && b <= ms * 1.19 + 1e-9, "{ms} ms -> bucket bound {b} ms");
        }
        assert_eq!(bucket(0.0), 0);
        assert_eq!(bucket(1e9), BUCKETS - 1, "an absurd latency lands in the last bucket");
    }

    #[test]
    fn figures_cover_the_window_and_forget_what_left_it() {
        let f = Figures::new();
        let t0 = f.start;
        // 100 requests in second 0: 98 at 1 ms, 2 at 100 ms; one is a 503.
        for i in 0..100 {
            let ms = if i < 98 { 1.0 } else { 100.0 };
            f.record_at("a", if i == 0 { 503 } else { 200 }, Duration::from_secs_f64(ms / 1000.0), t0);
        }
        f.record_at("b", 404, Duration::from_millis(2), t0 + Duration::from_millis(1500));
        let s = f.snapshot_at(t0 + Duration::from_secs(2));
        assert_eq!(s.iter().map(|t| t.tenant.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let a = &s[0];
        assert_eq!((a.total_requests, a.total_errors), (100, 1));
        assert!((a.requests_per_sec - 50.0).abs() < 1e-9, "100 requests over 2 s: {}", a.requests_per_sec);
        assert!((a.error_rate - 0.01).abs() < 1e-9);
        let (p50, p99) = (a.p50_ms.unwrap(), a.p99_ms.unwrap());
        assert!((1.0..1.19).contains(&p50), "{p50}");
        assert!((100.0..119.0).contains(&p99), "{p99}");
        assert_eq!(s[1].error_rate, 0.0, "a 4xx is the caller's, not an error of the tenant's provider");
        // Eleven seconds later the requests left the window; totals stay.
        let s = f.snapshot_at(t0 + Duration::from_secs(11));
        assert_eq!((s[0].requests_per_sec, s[0].p50_ms, s[0].total_requests), (0.0, None, 100));
    }
}
