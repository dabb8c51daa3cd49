//! Why a call did not produce the plugin's answer, and how a wasmtime error
//! becomes one of those reasons (trap messages are truncated and escaped).

use crate::ProviderKind;
use crate::bindings::types::ProviderError;
use std::time::Duration;

/// Why a call did not produce the plugin's answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin answered with its WIT error value.
    #[error("{0:?}")]
    Provider(ProviderError),
    /// The actor's queue is full; retry later.
    #[error("the provider of tenant {tenant} is busy ({capacity} calls queued)")]
    Overloaded { tenant: String, capacity: usize },
    /// The plugin trapped; its instance was discarded.
    #[error("the plugin failed and was restarted: {0}")]
    Trap(String),
    /// The call overran its wall-clock deadline; the instance was discarded.
    #[error("the plugin did not answer within {0:?}")]
    Timeout(Duration),
    /// The instance could not be created.
    #[error("the plugin could not be started: {0}")]
    Instantiate(String),
    /// The host runs as many plugin instances as it has room for
    /// (`serve --max-instances`), so none was created for this call: the
    /// host's limit, not the plugin's fault. The next call tries again.
    #[error("the host has no room for another plugin instance now ({0}; serve --max-instances)")]
    HostFull(String),
    /// The plugin's `lifecycle.init` (contract 1.1) refused to start the
    /// instance, most often over a bad setting; the instance was dropped.
    #[error("the plugin refused to start: {}", describe(.0))]
    Init(ProviderError),
    /// The bound component does not export this provider interface.
    #[error("the bound plugin does not export the {0} provider interface")]
    NotExported(ProviderKind),
    /// The stream cursor is unknown (closed, or its instance was recycled).
    #[error("the stream is no longer available")]
    CursorGone,
    /// The actor has shut down.
    #[error("the provider is shutting down")]
    Closed,
    /// The plugin's answer breaks a rule of the contract (see `answers.rs`);
    /// the instance was discarded and nothing was cached.
    #[error("the plugin's answer breaks the contract: {0}")]
    Contract(String),
    /// The plugin's answer is larger than the host accepts (lifted bytes or
    /// serialized JSON); the instance was discarded.
    #[error("the plugin's answer is too large: {0}")]
    AnswerTooLarge(String),
    /// Recent calls failed in a row; calls fail fast until the cooldown
    /// ends and a probe call succeeds.
    #[error("the provider of tenant {tenant} is failing; calls are suspended for {retry_after_secs} s")]
    CircuitOpen { tenant: String, retry_after_secs: u64 },
}

impl CallError {
    /// Whether this failure is the provider's (its plugin, backend or
    /// capacity), not an answer to the caller's request: what `tenant
    /// show` reports as the last error.
    pub fn is_providers_fault(&self) -> bool {
        use ProviderError::*;
        !matches!(
            self,
            CallError::Provider(NotFound(_) | InvalidInput(_) | Conflict(_) | Unsupported(_))
                | CallError::CursorGone
                | CallError::NotExported(_)
                | CallError::CircuitOpen { .. }
                | CallError::HostFull(_)
        )
    }

    pub(super) fn trap(e: wasmtime::Error) -> Self {
        // wasmtime's hostcall fuel stops lifting an answer (or a host-call
        // argument) larger than `max_answer_bytes`: that is a size limit,
        // not a crash of the plugin.
        if e.chain().any(|c| c.to_string().contains("fuel allocated for hostcalls has been exhausted")) {
            return CallError::AnswerTooLarge(
                "the plugin tried to pass more bytes in one call than the host's answer limit \
                 (limits.maxAnswerMib)"
                    .into(),
            );
        }
        CallError::Trap(truncated(&format!("{e:#}")))
    }

    /// The error of a call stopped by its CPU budget (the signature
    /// `state::Metered` wants for its over-budget answer).
    pub(super) fn cpu_budget_err<T>(budget: Duration) -> Result<T, Self> {
        Err(CallError::Trap(cpu_budget_message(budget)))
    }

    /// Whether the instance must be thrown away after this error.
    pub(super) fn poisons(&self) -> bool {
        matches!(
            self,
            CallError::Trap(_) | CallError::Timeout(_) | CallError::Contract(_) | CallError::AnswerTooLarge(_)
        )
    }

    /// This error as the failure of `lifecycle.<call>` or of the
    /// instantiation before it: the same facts without "restarted" (no
    /// call was answered; the instance is simply gone).
    pub fn in_lifecycle(&self, call: &str) -> String {
        match self {
            CallError::Init(e) => format!("lifecycle.{call} answered {}", describe(e)),
            CallError::Trap(m) => format!("it trapped in lifecycle.{call} or while starting: {m}"),
            CallError::Timeout(d) if call == "init" => {
                format!("it did not start (instantiation and lifecycle.init) within {d:?}")
            }
            CallError::Timeout(d) => format!("lifecycle.{call} did not finish within {d:?}"),
            CallError::Instantiate(m) => format!("it could not be instantiated: {m}"),
            other => other.to_string(),
        }
    }

    /// Whether a check of a new binding (`lifecycle.init` on a trial
    /// instance) refuses the binding: every failure to start does, except
    /// `init` answering `unavailable` or `timeout` (a back end that is down
    /// or slow; the settings may still be right) and a host with no room
    /// for the trial instance (nothing was learnt of the plugin).
    pub fn refuses_binding(&self) -> bool {
        !matches!(
            self,
            CallError::Init(ProviderError::Unavailable(_) | ProviderError::Timeout(_)) | CallError::HostFull(_)
        )
    }

    /// Whether this error says the backend is unhealthy (what the circuit
    /// breaker counts).
    pub(super) fn backend_failure(&self) -> bool {
        matches!(
            self,
            CallError::Provider(ProviderError::Unavailable(_) | ProviderError::Timeout(_))
                | CallError::Timeout(_)
                | CallError::Trap(_)
                | CallError::Instantiate(_)
                | CallError::Init(_)
        )
    }
}

/// A provider error as `kind: message`, the message escaped (plugin text).
pub fn describe(e: &ProviderError) -> String {
    use ProviderError::*;
    let (kind, m) = match e {
        NotFound(m) => ("not-found", m),
        InvalidInput(m) => ("invalid-input", m),
        Conflict(m) => ("conflict", m),
        Unavailable(m) => ("unavailable", m),
        Timeout(m) => ("timeout", m),
        Unsupported(m) => ("unsupported", m),
        Internal(m) => ("internal", m),
    };
    format!("{kind}: {}", crate::untrusted::sanitize(m))
}

/// One wording for a call over its CPU budget, whether the meter between
/// polls or the epoch callback inside the guest stopped it.
pub(super) fn cpu_budget_message(budget: Duration) -> String {
    format!("the call exceeded its CPU budget of {} ms (guest code and the host calls it made)", budget.as_millis())
}

/// A trap message, escaped, cut in the middle when long. A runaway
/// recursion carries a backtrace of thousands of frames (with names the
/// plugin chose); keep its head (where it started) and tail (the trap
/// reason).
fn truncated(full: &str) -> String {
    const HEAD: usize = 1024;
    const TAIL: usize = 512;
    if full.len() <= HEAD + TAIL + 64 {
        return crate::untrusted::sanitize(full);
    }
    let head_end = (0..=HEAD).rev().find(|&i| full.is_char_boundary(i)).unwrap_or(0);
    let tail_start = (full.len() - TAIL..full.len()).find(|&i| full.is_char_boundary(i)).unwrap_or(full.len());
    let skipped = tail_start - head_end;
    format!(
        "{} […{skipped} bytes of backtrace…] {}",
        crate::untrusted::sanitize(&full[..head_end]),
        crate::untrusted::sanitize(&full[tail_start..])
    )
}

/// Lifts a plugin call's two-level result: outer error = trap, inner = WIT error.
pub(super) fn lift<T>(r: wasmtime::Result<Result<T, ProviderError>>) -> Result<T, CallError> {
    r.map_err(CallError::trap)?.map_err(CallError::Provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_trap_messages_are_kept_whole() {
        assert_eq!(truncated("wasm trap: unreachable"), "wasm trap: unreachable");
    }

    #[test]
    fn long_trap_messages_keep_head_and_tail() {
        let full = format!("start{}end: stack overflow", "x".repeat(10_000));
        let t = truncated(&full);
        assert!(t.starts_with("start"), "{t}");
        assert!(t.ends_with("end: stack overflow"), "{t}");
        assert!(t.contains("bytes of backtrace"), "{t}");
        assert!(t.len() < 1024 + 512 + 100, "{}", t.len());
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        // Multi-byte characters across both cut points must not panic.
        let full = "é".repeat(5_000);
        let t = truncated(&full);
        assert!(t.contains("bytes of backtrace"));
    }
}
