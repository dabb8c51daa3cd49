//! Limits on the shape of one plugin instance (docs/RELIABILITY.md, "Guest
//! limits"): the memory budget covers the SUM of an instance's linear
//! memories, and `StoreLimits` caps its memories and core instances.
//! Proven with real provider components (the contract's `erp-plugin` world)
//! given extra core instances with memories of a chosen size
//! (`fixtures::provider_with_extra_instances`). Every function of these
//! components traps, so a call that got past instantiation fails with
//! "unreachable"; one refused at instantiation fails with the limit.

use crate::fixtures;
use crate::util::*;
use b2c_host::ProviderKind;
use serde_json::json;

/// Publishes `bytes` as `name` and binds `tenant` to it with `config`;
/// returns the error text of one call (every call fails: the functions
/// trap, or the instance is refused).
async fn call_error(h: &TestHost, name: &str, bytes: Vec<u8>, config: serde_json::Value) -> String {
    h.publish(name, "1.0.0", bytes).await;
    let tenant = format!("t-{name}");
    h.bind_with_key(&tenant, json!({ "erp": { "plugin": name, "version": "^1" }, "config": config })).await;
    let e = h.provider(&tenant, ProviderKind::Erp).get_product("P1".into()).await.unwrap_err();
    let text = e.to_string();
    eprintln!("{name}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_limit_is_over_the_sum_of_all_memories() {
    let h = TestHost::start_with(|a| a.cache_max_entries = 0).await;
    // 20 MiB memories; the budget is 32 MiB.
    let limit = json!({ "limits.memoryMib": 32 });
    let (one, _) = fixtures::provider_with_extra_instances(1, Some(320));
    let (two, _) = fixtures::provider_with_extra_instances(2, Some(320));
    // One 20 MiB memory fits: the instance is created and the call reaches
    // the (trapping) function.
    let e = call_error(&h, "one-memory", one, limit.clone()).await;
    assert!(e.contains("unreachable"), "one 20 MiB memory under 32 MiB: {e}");
    // Two, each under the limit on its own, do not: 40 MiB in one instance.
    let e = call_error(&h, "two-memories", two.clone(), limit).await;
    assert!(!e.contains("unreachable"), "two 20 MiB memories under 32 MiB instantiated: {e}");
    assert!(e.to_lowercase().contains("memory"), "{e}");
    // The same component under a 64 MiB budget is created.
    let e = call_error(&h, "two-memories-64", two, json!({ "limits.memoryMib": 64 })).await;
    assert!(e.contains("unreachable"), "two 20 MiB memories under 64 MiB: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_limits_cap_memories_and_core_instances() {
    let h = TestHost::start_with(|a| a.cache_max_entries = 0).await;
    // Memories: the provider's own one plus 7 one-page memories is 8, the
    // cap; one more is refused.
    let (eight, _) = fixtures::provider_with_extra_instances(7, Some(1));
    let (nine, _) = fixtures::provider_with_extra_instances(8, Some(1));
    let e = call_error(&h, "eight-memories", eight, json!({})).await;
    assert!(e.contains("unreachable"), "8 memories: {e}");
    let e = call_error(&h, "nine-memories", nine, json!({})).await;
    assert!(!e.contains("unreachable") && e.contains("memory count"), "9 memories: {e}");
    // Core instances: extra instances without memories, up to 32 in all
    // (the cap) and one more.
    let (_, base) = fixtures::provider_with_extra_instances(0, None);
    eprintln!("the provider component has {base} core instances of its own");
    assert!((1..32).contains(&base), "{base}");
    let (at_cap, _) = fixtures::provider_with_extra_instances(32 - base, None);
    let (over, _) = fixtures::provider_with_extra_instances(33 - base, None);
    let e = call_error(&h, "thirty-two-instances", at_cap, json!({})).await;
    assert!(e.contains("unreachable"), "32 core instances: {e}");
    let e = call_error(&h, "thirty-three-instances", over, json!({})).await;
    assert!(!e.contains("unreachable") && e.contains("instance count"), "33 core instances: {e}");
}

/// WASI as a plugin sees it (docs/RELIABILITY.md: "no preopened
/// directories, no environment; stdout and stderr always accept writes and
/// the host keeps 4 KiB of each per call"),
/// reported by mock-erp's `MOCK-ERP-WASI` probe from inside the instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasi_gives_no_environment_no_directories_and_a_stderr_that_never_fails() {
    // The host's own process has an environment; none of it may leak.
    assert!(std::env::vars_os().count() > 0);
    let h = TestHost::start_with(|a| a.cache_max_entries = 0).await;
    let k = h.add_tenant("probe", &[]).await;
    let r = h.get(Some(&k), "/api/v1/tenants/probe/erp/products/MOCK-ERP-WASI").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let report = r.json()["description"].as_str().unwrap().to_string();
    eprintln!("WASI probe: {report}");
    let fields: std::collections::BTreeMap<&str, &str> =
        report.split(';').map(|f| f.split_once('=').expect("key=value")).collect();
    assert_eq!(fields["env"], "0", "environment variables visible: {report}");
    assert!(fields["fs-list"].starts_with("err("), "`/` could be listed: {report}");
    assert!(fields["fs-create"].starts_with("err("), "a file could be created: {report}");
    // 64 KiB written in 1 KiB writes: every write is acknowledged (a
    // failing stderr or stdout makes a guest's print! trap); the host keeps
    // 4 KiB of it for the log (host/tests/output.rs reads that record).
    assert_eq!(fields["stderr"], "65536", "{report}");
    // The instance is still fine after writing 64 KiB.
    let again = h.get(Some(&k), "/api/v1/tenants/probe/erp/products/P00000001").await;
    assert_eq!((again.status.as_u16(), again.json()["id"].as_str()), (200, Some("P00000001")));
}
