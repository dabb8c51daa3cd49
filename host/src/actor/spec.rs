//! What one actor runs ([`ActorSpec`], naming its plugin by [`PluginRef`])
//! and the bounds it runs under ([`ActorSettings`]).

use crate::ProviderKind;
use crate::capabilities::{self, Grants, log::LogLimit, socket::SocketCounters, socket::SocketLimits};
use crate::engine::PluginComponent;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Bounds of one actor and its instance.
#[derive(Clone, Debug)]
pub struct ActorSettings {
    /// Calls that may wait in the queue.
    pub queue_capacity: usize,
    /// Wall-clock limit of one call, including time spent in host calls
    /// (epochs do not advance a guest blocked on its socket).
    pub call_timeout: Duration,
    /// CPU time one call may use: guest code and the host calls it makes
    /// (thread CPU time, see `state::CpuMeter`). Instantiation (the
    /// component's start function) counts as a call.
    pub cpu_budget: Duration,
    /// Memory the instance may use, in bytes (all memories together).
    pub max_memory_bytes: usize,
    /// Stream cursors an instance may hold open at once.
    pub max_open_cursors: usize,
    /// Resource handles an instance may hold, host table and component
    /// tables each.
    pub max_handles: usize,
    /// Bytes the plugin may pass to the host in one call: an answer as
    /// lifted into host memory, or the arguments of one host call
    /// (wasmtime's hostcall fuel, counted per call).
    pub max_answer_bytes: usize,
    /// Bytes of JSON the host writes from one answer (a record, a batch,
    /// one pull of a stream); JSON escapes can make it larger than the
    /// lifted answer.
    pub max_answer_json_bytes: usize,
    /// Plugin log records per second admitted for the tenant (token
    /// bucket; the rest are dropped and counted), and the bucket's size.
    pub log_per_sec: u32,
    pub log_burst: u32,
    /// Requests per second admitted for the tenant (token bucket), if
    /// limited, and the bucket's size (default: one second's worth).
    pub rate_per_sec: Option<u32>,
    pub rate_burst: Option<u32>,
    pub socket: SocketLimits,
    /// Consecutive backend failures that open the circuit breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker fails calls fast before a probe.
    pub breaker_cooldown: Duration,
}

impl Default for ActorSettings {
    fn default() -> Self {
        Self {
            queue_capacity: 256,
            call_timeout: Duration::from_secs(30),
            cpu_budget: Duration::from_secs(10),
            max_memory_bytes: 256 * 1024 * 1024,
            max_open_cursors: 32,
            max_handles: 10_000,
            max_answer_bytes: 16 * 1024 * 1024,
            max_answer_json_bytes: 32 * 1024 * 1024,
            log_per_sec: 100,
            log_burst: 1_000,
            rate_per_sec: None,
            rate_burst: None,
            socket: SocketLimits::default(),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(5),
        }
    }
}

/// Which published plugin an actor runs: the registry's name and the
/// version its pin resolved to. Callers that need the name (sync state is
/// kept per plugin name) read the field; logs, metrics and status print it
/// as `name@version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRef {
    pub name: String,
    pub version: String,
}

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// What one actor runs: a component bound to a tenant for one or more
/// kinds. When one artifact serves several kinds of a tenant, they share
/// one actor: one instance, one backend session, one serialized queue, and
/// state (orders, synced records) that every kind sees.
#[derive(Clone)]
pub struct ActorSpec {
    pub tenant: String,
    pub kinds: Vec<ProviderKind>,
    pub plugin: PluginRef,
    pub component: Arc<PluginComponent>,
    pub settings: Arc<BTreeMap<String, String>>,
    /// The socket endpoint granted to this tenant, if any.
    pub socket: Option<String>,
    /// The tenant's plugin-log rate limit, shared by all its actors.
    pub log_limit: Arc<LogLimit>,
}

impl ActorSpec {
    /// What the binding grants each instance of this actor.
    pub(super) fn grants(&self, settings: &ActorSettings, counters: &Arc<SocketCounters>) -> Grants {
        Grants {
            log: capabilities::log::Grant {
                tenant: self.tenant.clone(),
                plugin: self.plugin.to_string(),
                limit: self.log_limit.clone(),
            },
            config: capabilities::config::Grant { tenant: self.tenant.clone(), settings: self.settings.clone() },
            socket: capabilities::socket::Grant {
                tenant: self.tenant.clone(),
                endpoint: self.socket.clone(),
                limits: settings.socket.clone(),
                counters: counters.clone(),
            },
        }
    }

    /// "erp+crm+pim": the kinds this actor serves, for logs and metrics.
    pub fn kinds_label(&self) -> String {
        self.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join("+")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_ref_prints_as_name_at_version() {
        let p = PluginRef { name: "mock-erp".into(), version: "1.2.0".into() };
        assert_eq!(p.to_string(), "mock-erp@1.2.0");
    }
}
