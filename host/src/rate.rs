//! Per-tenant request rate limits: a token bucket per tenant, refilled at
//! `ratePerSec` up to `rateBurst`. Checked by the tenant routes' rate-limit
//! layer (`api::middleware::rate_limit`) right after authentication, before
//! any work (cache included), so a tenant far over its
//! limit costs the host one map lookup per request and others nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Bucket {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(per_sec: u32, burst: u32) -> Self {
        Self { per_sec: f64::from(per_sec), burst: f64::from(burst), tokens: f64::from(burst), last: Instant::now() }
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec))
        }
    }
}

/// The buckets of every rate-limited tenant.
#[derive(Debug, Default)]
pub struct RateLimits {
    buckets: RwLock<HashMap<String, Arc<Mutex<Bucket>>>>,
}

impl RateLimits {
    /// Sets (or clears, with `None`) a tenant's limit; a new binding starts
    /// with a full bucket.
    pub fn configure(&self, tenant: &str, per_sec: Option<u32>, burst: Option<u32>) {
        let mut b = self.buckets.write().expect("rate lock");
        match per_sec {
            Some(r) => {
                b.insert(tenant.to_string(), Arc::new(Mutex::new(Bucket::new(r, burst.unwrap_or(r).max(1)))));
            }
            None => {
                b.remove(tenant);
            }
        }
    }

    /// Admits one request of `tenant`, or returns how long to wait.
    pub fn admit(&self, tenant: &str) -> Result<(), Duration> {
        let bucket = self.buckets.read().expect("rate lock").get(tenant).cloned();
        match bucket {
            None => Ok(()),
            Some(b) => b.lock().expect("bucket lock").take(Instant::now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_admits_its_burst_then_refills_at_its_rate() {
        let mut b = Bucket::new(10, 3);
        let t0 = b.last;
        assert!((0..3).all(|_| b.take(t0).is_ok()));
        let wait = b.take(t0).unwrap_err();
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100), "{wait:?}");
        // 250 ms later: 2.5 tokens, so two more requests, then a wait.
        let t1 = t0 + Duration::from_millis(250);
        assert!(b.take(t1).is_ok() && b.take(t1).is_ok());
        assert!(b.take(t1).is_err());
    }

    #[test]
    fn unlimited_tenants_are_always_admitted() {
        let r = RateLimits::default();
        r.configure("a", Some(1), None);
        assert!(r.admit("a").is_ok());
        assert!(r.admit("a").is_err());
        assert!((0..1000).all(|_| r.admit("b").is_ok()));
        r.configure("a", None, None);
        assert!(r.admit("a").is_ok());
    }
}
