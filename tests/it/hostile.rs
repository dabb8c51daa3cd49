//! Hostile plugins (`plugins/hostile`, a TEST FIXTURE) are stopped within
//! their limits, their Store is discarded, and a tenant on a good plugin
//! never notices. Figures (latencies) are printed, counts are asserted.

use crate::util::*;
use b2c_host::ProviderKind;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// (mode, status, problem type) for every hostile mode.
const MODES: [(&str, u16, &str); 7] = [
    ("loop", 502, "plugin-failure"),
    ("memory", 502, "plugin-failure"),
    ("recursion", 502, "plugin-failure"),
    ("unreachable", 502, "plugin-failure"),
    ("handles", 502, "plugin-failure"),
    ("host-handles", 502, "plugin-failure"),
    ("block", 504, "plugin-timeout"),
];

/// A peer that accepts and never answers: what `block` connects to.
async fn silent_peer() -> String {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut keep = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            keep.push(s);
        }
    });
    addr
}

/// Publishes the hostile fixture and binds `tenant` to it with `config`.
async fn bind_hostile(h: &TestHost, tenant: &str, socket: &str, config: serde_json::Value) -> String {
    h.publish("hostile", "1.0.0", std::fs::read(b2c_host::bundled::HOSTILE_PATH).unwrap()).await;
    let bind = json!({ "erp": { "plugin": "hostile", "version": "^1" }, "socket": socket, "config": config });
    h.bind_with_key(tenant, bind).await
}

/// Serves the good tenant in a loop until stopped; returns latencies and
/// the number of non-200 answers.
fn good_load(h: Arc<TestHost>, key: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(Vec<Duration>, u64)> {
    tokio::spawn(async move {
        let (mut lat, mut errors, mut i) = (Vec::new(), 0u64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let t = Instant::now();
            let r = h.get(Some(&key), &format!("/api/v1/tenants/good/erp/products/{}", pid(1 + i % 1000))).await;
            lat.push(t.elapsed());
            if r.status != 200 {
                errors += 1;
            }
            tokio::task::yield_now().await;
        }
        (lat, errors)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_mode_is_stopped_and_a_good_tenant_sees_no_error() {
    let silent = silent_peer().await;
    let h = Arc::new(
        TestHost::start_with(|a| {
            a.call_timeout_ms = 1500;
            a.cpu_budget_ms = 300;
            a.instance_memory_mib = 64;
            // Every call reaches its plugin.
            a.cache_max_entries = 0;
            a.breaker_threshold = 1000;
        })
        .await,
    );
    let evil = bind_hostile(&h, "evil", &silent, json!({})).await;
    let good = h.add_tenant("good", &[("productCount", "1000")]).await;

    // Baseline of the good tenant alone.
    let stop = Arc::new(AtomicBool::new(false));
    let base = good_load(h.clone(), good.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let (base_lat, base_errors) = base.await.unwrap();
    assert_eq!(base_errors, 0);

    let stop = Arc::new(AtomicBool::new(false));
    let during = good_load(h.clone(), good.clone(), stop.clone());
    let erp = || h.provider("evil", ProviderKind::Erp);
    let restarts0 = erp().handle.stats().restarts.load(Ordering::SeqCst);
    // 20 hostile calls: every mode, then round again.
    for n in 0..20 {
        let (mode, status, slug) = MODES[n % MODES.len()];
        let t = Instant::now();
        let p = h.get(Some(&evil), &format!("/api/v1/tenants/evil/erp/products/{mode}")).await.problem(status);
        eprintln!("hostile {mode:>12}: {status} after {:?}: {}", t.elapsed(), p["detail"]);
        assert_eq!(p["type"], format!("urn:b2connect:problem:{slug}"), "{mode}: {p}");
        assert_eq!(
            erp().handle.stats().restarts.load(Ordering::SeqCst),
            restarts0 + n as u64 + 1,
            "{mode}: Store discarded"
        );
        // A fresh instance answers the next call normally.
        let p = h.get(Some(&evil), "/api/v1/tenants/evil/erp/products/calm").await.problem(404);
        assert!(p["detail"].as_str().unwrap().contains("calm"), "{mode}");
    }
    // Why each was stopped (the client only sees a generic detail; the
    // cause is in the typed error and the host's log).
    for (mode, _, _) in MODES {
        let e = erp().get_product(mode.to_string()).await.unwrap_err();
        eprintln!("hostile {mode:>12}: {e}");
        let text = e.to_string();
        let expected = match mode {
            "loop" => "CPU budget",
            "block" => "did not answer within 1.5s",
            // The shadow stack (in linear memory) runs out first.
            "recursion" => "out of bounds memory access",
            "handles" => "handle",
            "host-handles" => "resource table has no free keys",
            "memory" | "unreachable" => "unreachable",
            _ => unreachable!(),
        };
        assert!(text.to_lowercase().contains(&expected.to_lowercase()), "{mode}: {text}");
        assert!(text.len() < 2048, "{mode}: a trap message is bounded, got {} bytes", text.len());
    }
    stop.store(true, Ordering::Relaxed);
    let (lat, errors) = during.await.unwrap();
    let (b99, d99) = (p99_ms(base_lat.clone()), p99_ms(lat.clone()));
    eprintln!(
        "good tenant: baseline {} requests p99 {b99:.2} ms; during 20 hostile calls {} requests p99 {d99:.2} ms ({:.2}x), {errors} errors",
        base_lat.len(),
        lat.len(),
        d99 / b99.max(1e-9)
    );
    assert_eq!(errors, 0);
    assert!(lat.len() > 20);
    assert_eq!(h.provider("good", ProviderKind::Erp).handle.stats().restarts.load(Ordering::SeqCst), 0);
    assert_eq!(h.metric("erp_provider_plugin_restarts").await, 27.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_mixed_hostile_calls_leave_no_trace() {
    let panics = Arc::new(AtomicU64::new(0));
    {
        let panics = panics.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            panics.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    }
    let silent = silent_peer().await;
    let h = Arc::new(
        TestHost::start_with(|a| {
            a.cache_max_entries = 0;
            a.breaker_threshold = 100_000;
        })
        .await,
    );
    // Tight per-tenant limits (binding config), so a thousand calls are quick.
    let limits = json!({
        "limits.cpuBudgetMs": 20,
        "limits.callTimeoutMs": 150,
        "limits.memoryMib": 32,
        "limits.maxHandles": 2000,
    });
    let tenants = 8;
    let mut keys = Vec::new();
    for t in 0..tenants {
        keys.push(bind_hostile(&h, &format!("evil{t}"), &silent, limits.clone()).await);
    }
    let good = h.add_tenant("good", &[("productCount", "1000")]).await;
    for (t, k) in keys.iter().enumerate() {
        h.get(Some(k), &format!("/api/v1/tenants/evil{t}/erp/products/calm")).await.problem(404);
    }
    h.get(Some(&good), "/api/v1/tenants/good/erp/products/P00000001").await;
    let instances0 = h.metric("erp_provider_plugin_instances").await;
    let memory0 = h.metric("erp_provider_plugin_memory_bytes").await;
    // The demo tenant was never called: it has no instance yet.
    assert_eq!(instances0, (tenants + 1) as f64, "8 hostile + good");

    let stop = Arc::new(AtomicBool::new(false));
    let during = good_load(h.clone(), good.clone(), stop.clone());
    let t0 = Instant::now();
    let results = futures::future::join_all(keys.iter().enumerate().map(|(t, k)| {
        let (h, k) = (h.clone(), k.clone());
        async move {
            let mut by_status = std::collections::BTreeMap::<u16, u64>::new();
            for i in 0..1000 / tenants {
                let (mode, status, _) = MODES[(i + t) % MODES.len()];
                let r = h.get(Some(&k), &format!("/api/v1/tenants/evil{t}/erp/products/{mode}")).await;
                // The CPU budget counts CPU time actually used: with 8
                // tenants and the good load on 2 cores, a spinning guest
                // may get less than 20 ms of CPU in 150 ms of wall clock,
                // and then the wall clock stops it first. Either limit
                // stopping it is correct; only `loop` can race.
                let status = if mode == "loop" && r.status == 504 { 504 } else { status };
                assert_eq!(r.status, status, "{mode}: {}", String::from_utf8_lossy(&r.body));
                r.problem(status);
                *by_status.entry(r.status.as_u16()).or_default() += 1;
            }
            by_status
        }
    }))
    .await;
    let elapsed = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (lat, errors) = during.await.unwrap();
    let mut total = std::collections::BTreeMap::<u16, u64>::new();
    for r in results {
        for (s, n) in r {
            *total.entry(s).or_default() += n;
        }
    }
    eprintln!(
        "1000 hostile calls in {elapsed:?}: {total:?}; good tenant {} requests, p99 {:.2} ms, {errors} errors",
        lat.len(),
        p99_ms(lat.clone())
    );
    assert_eq!(total.values().sum::<u64>(), 1000);
    assert_eq!(total.keys().copied().collect::<Vec<_>>(), vec![502, 504]);
    assert_eq!(errors, 0);
    assert_eq!(h.metric("erp_provider_plugin_restarts").await, 1000.0);
    assert_eq!(panics.load(Ordering::SeqCst), 0, "host panics");

    // Back to baseline: one fresh instance per hostile tenant again.
    for (t, k) in keys.iter().enumerate() {
        h.get(Some(k), &format!("/api/v1/tenants/evil{t}/erp/products/calm")).await.problem(404);
    }
    assert_eq!(h.metric("erp_provider_plugin_instances").await, instances0);
    let memory1 = h.metric("erp_provider_plugin_memory_bytes").await;
    eprintln!("guest memory: {memory0} bytes before, {memory1} after");
    assert!(memory1 <= memory0 + 2.0 * 1024.0 * 1024.0, "{memory0} -> {memory1}");
}
