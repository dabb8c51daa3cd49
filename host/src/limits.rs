//! Per-tenant guest limits. The `serve` flags set host-wide defaults; an
//! operator can tighten (or, up to the host's ceilings, loosen) them for one
//! tenant with `limits.*` keys in its binding config:
//!
//! | key | meaning | range |
//! |---|---|---|
//! | `limits.cpuBudgetMs` | CPU per call: guest code and the host calls it makes; the start function counts as a call | 10 ms – 1 h |
//! | `limits.callTimeoutMs` | wall clock per call, host calls included | 1 ms – 1 h |
//! | `limits.memoryMib` | linear memory of the instance, all memories together | 1 – the host's `--instance-memory-mib` |
//! | `limits.maxHandles` | resource handles (host table and component tables, each) | 16 – 1 000 000 |
//! | `limits.queueCapacity` | calls that may wait before 503 | 1 – 100 000 |
//! | `limits.ratePerSec`, `limits.rateBurst` | requests per second admitted before 429 | 1 – 1 000 000 |
//! | `limits.maxAnswerMib` | bytes the plugin may pass in one call (its answer as lifted, or one host call's arguments) | 1 – 1024 |
//! | `limits.maxAnswerJsonMib` | JSON the host writes from one answer (record, batch, stream pull) | 1 – 1024 |
//! | `limits.logPerSec`, `limits.logBurst` | plugin log records per second before they are dropped (counted) | 1 – 1 000 000 |
//!
//! These keys are the operator's, not the plugin's: they are validated at
//! bind time (422 on a bad value) and never reach the plugin's `config`.

use crate::actor::ActorSettings;
use std::collections::BTreeMap;
use std::time::Duration;

pub const PREFIX: &str = "limits.";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LimitError {
    #[error(
        "unknown limit `{0}` (known: limits.cpuBudgetMs, limits.callTimeoutMs, limits.memoryMib, limits.maxHandles, limits.queueCapacity, limits.ratePerSec, limits.rateBurst, limits.maxAnswerMib, limits.maxAnswerJsonMib, limits.logPerSec, limits.logBurst)"
    )]
    Unknown(String),
    #[error("`{key}` = `{value}`: expected a whole number in {min}..={max}")]
    OutOfRange { key: String, value: String, min: u64, max: u64 },
}

/// `base` with the tenant's overrides from `config` applied. `memory_ceiling`
/// is the engine's per-instance slot size: no tenant may exceed it.
pub fn apply(
    base: &ActorSettings,
    config: &BTreeMap<String, String>,
    memory_ceiling: usize,
) -> Result<ActorSettings, LimitError> {
    let mut s = base.clone();
    for (key, value) in config.iter().filter(|(k, _)| k.starts_with(PREFIX)) {
        let num = |min: u64, max: u64| -> Result<u64, LimitError> {
            value.trim().parse::<u64>().ok().filter(|v| (min..=max).contains(v)).ok_or_else(|| LimitError::OutOfRange {
                key: key.clone(),
                value: value.clone(),
                min,
                max,
            })
        };
        match &key[PREFIX.len()..] {
            "cpuBudgetMs" => s.cpu_budget = Duration::from_millis(num(10, 3_600_000)?),
            "callTimeoutMs" => s.call_timeout = Duration::from_millis(num(1, 3_600_000)?),
            "memoryMib" => {
                let ceiling = (memory_ceiling / (1024 * 1024)).max(1) as u64;
                s.max_memory_bytes = (num(1, ceiling)? * 1024 * 1024) as usize;
            }
            "maxHandles" => s.max_handles = num(16, 1_000_000)? as usize,
            "queueCapacity" => s.queue_capacity = num(1, 100_000)? as usize,
            "ratePerSec" => s.rate_per_sec = Some(num(1, 1_000_000)? as u32),
            "rateBurst" => s.rate_burst = Some(num(1, 1_000_000)? as u32),
            "maxAnswerMib" => s.max_answer_bytes = (num(1, 1024)? << 20) as usize,
            "maxAnswerJsonMib" => s.max_answer_json_bytes = (num(1, 1024)? << 20) as usize,
            "logPerSec" => s.log_per_sec = num(1, 1_000_000)? as u32,
            "logBurst" => s.log_burst = num(1, 1_000_000)? as u32,
            _ => return Err(LimitError::Unknown(key.clone())),
        }
    }
    Ok(s)
}

/// The plugin's view of a binding config: everything but `limits.*`.
pub fn plugin_config(config: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    config.iter().filter(|(k, _)| !k.starts_with(PREFIX)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn overrides_apply_and_stay_out_of_the_plugin_config() {
        let base = ActorSettings::default();
        let c = cfg(&[
            ("limits.cpuBudgetMs", "50"),
            ("limits.callTimeoutMs", "250"),
            ("limits.memoryMib", "32"),
            ("limits.maxHandles", "100"),
            ("limits.ratePerSec", "20"),
            ("limits.maxAnswerMib", "2"),
            ("limits.maxAnswerJsonMib", "3"),
            ("limits.logPerSec", "7"),
            ("productCount", "7"),
        ]);
        let s = apply(&base, &c, 256 << 20).unwrap();
        assert_eq!(s.cpu_budget, Duration::from_millis(50));
        assert_eq!(s.call_timeout, Duration::from_millis(250));
        assert_eq!(s.max_memory_bytes, 32 << 20);
        assert_eq!(s.max_handles, 100);
        assert_eq!((s.rate_per_sec, s.rate_burst), (Some(20), None));
        assert_eq!((s.max_answer_bytes, s.max_answer_json_bytes), (2 << 20, 3 << 20));
        assert_eq!((s.log_per_sec, s.log_burst), (7, base.log_burst));
        assert_eq!(s.queue_capacity, base.queue_capacity);
        assert_eq!(plugin_config(&c), cfg(&[("productCount", "7")]));
    }

    #[test]
    fn bad_values_are_named() {
        let base = ActorSettings::default();
        let e = apply(&base, &cfg(&[("limits.memoryMib", "512")]), 256 << 20).unwrap_err();
        assert_eq!(e, LimitError::OutOfRange { key: "limits.memoryMib".into(), value: "512".into(), min: 1, max: 256 });
        for bad in ["-1", "1.5", "", "ten", "99999999999999999999"] {
            assert!(apply(&base, &cfg(&[("limits.maxHandles", bad)]), 256 << 20).is_err(), "{bad}");
        }
        assert_eq!(
            apply(&base, &cfg(&[("limits.fuel", "1")]), 256 << 20).unwrap_err(),
            LimitError::Unknown("limits.fuel".into())
        );
    }
}
