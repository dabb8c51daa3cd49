//! Per-actor circuit breaker: after `threshold` consecutive backend failures
//! (unavailable, timeout, trap) calls fail fast for `cooldown`; then one
//! probe call is let through: success closes the breaker, failure reopens
//! it. A dead container thus costs its tenant one fast 503 per call instead
//! of a full timeout, and costs other tenants nothing.
//!
//! Answers the actor gave without asking the plugin (queue full, breaker
//! open) say nothing about the backend: they neither count as failures nor
//! close the breaker.

use super::error::CallError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The breaker of one actor, shared by every handle to it (calls admitted
/// through different handles count together).
#[derive(Debug)]
pub(super) struct Breaker {
    /// For the fail-fast error and the open/closed log lines.
    tenant: String,
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Backend failures in a row.
    failures: u32,
    /// Set while open: calls fail fast until then.
    open_until: Option<Instant>,
    /// When the one probe after the cooldown was let through, until it is
    /// recorded (or abandoned: older than the call timeout).
    probe_started: Option<Instant>,
}

impl Breaker {
    pub(super) fn new(tenant: String, threshold: u32, cooldown: Duration) -> Self {
        Self { tenant, threshold: threshold.max(1), cooldown, state: Mutex::default() }
    }

    /// Whether the breaker is failing calls fast right now.
    pub(super) fn is_open(&self) -> bool {
        self.is_open_at(Instant::now())
    }

    /// Fails fast while the breaker is open; lets one probe through after
    /// the cooldown (a probe older than the call timeout was abandoned).
    pub(super) fn admit(&self, timeout: Duration) -> Result<(), CallError> {
        self.admit_at(Instant::now(), timeout)
    }

    /// Counts the outcome of an admitted call (`None`: it succeeded).
    pub(super) fn record(&self, error: Option<&CallError>) {
        self.record_at(Instant::now(), error)
    }

    // The `_at` forms take the clock as an argument so the tests can walk
    // through cooldowns without sleeping.

    fn is_open_at(&self, now: Instant) -> bool {
        self.lock().open_until.is_some_and(|until| now < until)
    }

    fn admit_at(&self, now: Instant, timeout: Duration) -> Result<(), CallError> {
        let mut b = self.lock();
        let Some(until) = b.open_until else { return Ok(()) };
        let probing = b.probe_started.is_some_and(|t| now.duration_since(t) < timeout);
        if now < until || probing {
            let secs = until.saturating_duration_since(now).as_secs().max(1);
            return Err(CallError::CircuitOpen { tenant: self.tenant.clone(), retry_after_secs: secs });
        }
        b.probe_started = Some(now);
        Ok(())
    }

    fn record_at(&self, now: Instant, error: Option<&CallError>) {
        let mut b = self.lock();
        match error {
            Some(e) if e.backend_failure() => {
                b.failures += 1;
                if b.probe_started.is_some() || b.failures >= self.threshold {
                    if b.open_until.is_none() || b.probe_started.is_some() {
                        tracing::warn!(tenant = %self.tenant, failures = b.failures, "circuit breaker open: failing calls fast");
                    }
                    b.open_until = Some(now + self.cooldown);
                    b.probe_started = None;
                }
            }
            Some(CallError::CircuitOpen { .. } | CallError::Overloaded { .. }) => {}
            // No instance could be made (the host's pool is full): the back
            // end was not reached, so it neither counts nor closes; a probe
            // that met it leaves the next call to probe again.
            Some(CallError::HostFull(_)) => b.probe_started = None,
            _ => {
                if b.open_until.is_some() {
                    tracing::info!(tenant = %self.tenant, "circuit breaker closed: the provider answers again");
                }
                *b = State::default();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("breaker lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::ProviderError;

    const COOLDOWN: Duration = Duration::from_secs(5);
    const TIMEOUT: Duration = Duration::from_secs(30);

    fn breaker() -> Breaker {
        Breaker::new("t".into(), 3, COOLDOWN)
    }

    fn unavailable() -> CallError {
        CallError::Provider(ProviderError::Unavailable("down".into()))
    }

    fn fail(b: &Breaker, now: Instant, n: u32) {
        for _ in 0..n {
            b.admit_at(now, TIMEOUT).expect("admitted while closed");
            b.record_at(now, Some(&unavailable()));
        }
    }

    /// A breaker opened at some t0, with the one probe let through at the
    /// end of the cooldown (returned: that moment).
    fn probing() -> (Breaker, Instant) {
        let (b, t0) = (breaker(), Instant::now());
        fail(&b, t0, 3);
        let t1 = t0 + COOLDOWN;
        assert!(!b.is_open_at(t1));
        b.admit_at(t1, TIMEOUT).expect("the probe");
        (b, t1)
    }

    fn is_circuit_open(r: Result<(), CallError>) -> bool {
        matches!(r, Err(CallError::CircuitOpen { .. }))
    }

    #[test]
    fn opens_after_threshold_backend_failures_in_a_row() {
        let (b, t0) = (breaker(), Instant::now());
        fail(&b, t0, 2);
        assert!(!b.is_open_at(t0));
        fail(&b, t0, 1);
        assert!(b.is_open_at(t0));
        match b.admit_at(t0, TIMEOUT) {
            Err(CallError::CircuitOpen { tenant, retry_after_secs }) => {
                assert_eq!(tenant, "t");
                assert_eq!(retry_after_secs, COOLDOWN.as_secs());
            }
            other => panic!("expected circuit-open, got {other:?}"),
        }
        // Under a second left still tells the caller to wait one.
        assert!(matches!(
            b.admit_at(t0 + COOLDOWN - Duration::from_millis(10), TIMEOUT),
            Err(CallError::CircuitOpen { retry_after_secs: 1, .. })
        ));
    }

    #[test]
    fn every_backend_failure_kind_counts() {
        for e in [
            unavailable(),
            CallError::Provider(ProviderError::Timeout("slow".into())),
            CallError::Timeout(TIMEOUT),
            CallError::Trap("unreachable".into()),
            CallError::Instantiate("no start".into()),
        ] {
            let b = Breaker::new("t".into(), 1, COOLDOWN);
            let t0 = Instant::now();
            b.record_at(t0, Some(&e));
            assert!(b.is_open_at(t0), "{e:?}");
        }
    }

    #[test]
    fn a_success_or_a_non_backend_error_resets_the_count() {
        let (b, t0) = (breaker(), Instant::now());
        fail(&b, t0, 2);
        b.record_at(t0, None);
        fail(&b, t0, 2);
        b.record_at(t0, Some(&CallError::Provider(ProviderError::NotFound("x".into()))));
        fail(&b, t0, 2);
        b.record_at(t0, Some(&CallError::CursorGone));
        fail(&b, t0, 2);
        assert!(!b.is_open_at(t0));
    }

    #[test]
    fn overloaded_and_circuit_open_answers_do_not_count() {
        let (b, t0) = (breaker(), Instant::now());
        let overloaded = CallError::Overloaded { tenant: "t".into(), capacity: 1 };
        let open = CallError::CircuitOpen { tenant: "t".into(), retry_after_secs: 1 };
        let full = CallError::HostFull("maximum concurrent limit of 1 for component instances reached".into());
        fail(&b, t0, 2);
        for _ in 0..10 {
            b.record_at(t0, Some(&overloaded));
            b.record_at(t0, Some(&open));
            b.record_at(t0, Some(&full));
        }
        // Neither counted nor reset: one more failure reaches the threshold.
        assert!(!b.is_open_at(t0));
        fail(&b, t0, 1);
        assert!(b.is_open_at(t0));
        // And none closes an open breaker.
        b.record_at(t0, Some(&overloaded));
        b.record_at(t0, Some(&open));
        b.record_at(t0, Some(&full));
        assert!(b.is_open_at(t0));
    }

    #[test]
    fn one_probe_after_the_cooldown_and_a_success_closes() {
        let (b, t1) = probing();
        assert!(is_circuit_open(b.admit_at(t1, TIMEOUT)), "only one probe at a time");
        b.record_at(t1, None);
        assert!(!b.is_open_at(t1));
        b.admit_at(t1, TIMEOUT).expect("closed again");
        b.admit_at(t1, TIMEOUT).expect("closed again, no probe limit");
        // The count starts over.
        fail(&b, t1, 2);
        assert!(!b.is_open_at(t1));
    }

    #[test]
    fn a_probe_that_found_the_host_full_neither_closes_nor_blocks_the_next_probe() {
        let (b, t1) = probing();
        b.record_at(t1, Some(&CallError::HostFull("maximum concurrent limit of 1 for fibers reached".into())));
        b.admit_at(t1, TIMEOUT).expect("the next call probes at once");
        assert!(is_circuit_open(b.admit_at(t1, TIMEOUT)), "still open: one probe at a time");
    }

    #[test]
    fn a_failed_probe_opens_again_for_a_full_cooldown() {
        let (b, t1) = probing();
        b.record_at(t1, Some(&unavailable()));
        assert!(b.is_open_at(t1));
        assert!(is_circuit_open(b.admit_at(t1 + COOLDOWN - Duration::from_millis(1), TIMEOUT)));
        b.admit_at(t1 + COOLDOWN, TIMEOUT).expect("the next probe");
    }

    #[test]
    fn a_probe_older_than_the_call_timeout_was_abandoned() {
        let (b, t1) = probing();
        assert!(is_circuit_open(b.admit_at(t1 + TIMEOUT - Duration::from_millis(1), TIMEOUT)));
        b.admit_at(t1 + TIMEOUT, TIMEOUT).expect("a new probe");
    }
}
