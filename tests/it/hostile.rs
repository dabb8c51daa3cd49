//! Hostile plugins are stopped within their limits, their instance is
//! replaced, and a tenant on a good plugin never notices.

use crate::util::*;
use b2c_host::ProviderKind;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_calls_are_stopped_and_other_tenants_see_no_error() {
    // A peer that accepts and never answers, for the blocking mode.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut keep = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            keep.push(s);
        }
    });
    let h = Arc::new(
        TestHost::start_with(|a| {
            a.call_timeout_ms = 1500;
            a.cpu_budget_ms = 300;
            a.instance_memory_mib = 64;
            a.cache_max_entries = 0;
        })
        .await,
    );
    let bytes = std::fs::read(b2c_host::bundled::HOSTILE_PATH).unwrap();
    let put = axum::http::Request::put("/admin/v1/plugins/hostile/versions/1.0.0")
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/wasm")
        .body(axum::body::Body::from(bytes))
        .unwrap();
    assert_eq!(h.request(put).await.status, 201);
    let bind = json!({ "erp": { "plugin": "hostile", "version": "^1" }, "socket": silent_addr });
    assert_eq!(h.admin("PUT", "/admin/v1/tenants/evil", Some(bind)).await.status, 200);
    let evil = h.admin("POST", "/admin/v1/tenants/evil/api-keys", None).await.json()["key"].as_str().unwrap().to_string();
    let good = h.add_tenant("good", &[("productCount", "1000")]).await;

    // The good tenant is served continuously while the hostile calls run.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let background = {
        let (h, good, stop, ok, errors) = (h.clone(), good.clone(), stop.clone(), ok.clone(), errors.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let r = h.get(Some(&good), &format!("/api/v1/tenants/good/erp/products/{}", pid(1 + i % 1000))).await;
                if r.status == 200 { ok.fetch_add(1, Ordering::Relaxed) } else { errors.fetch_add(1, Ordering::Relaxed) };
            }
        })
    };

    let modes = [
        ("loop", 502, "plugin-failure"),
        ("memory", 502, "plugin-failure"),
        ("recursion", 502, "plugin-failure"),
        ("unreachable", 502, "plugin-failure"),
        ("block", 504, "plugin-timeout"),
    ];
    let erp = || h.provider("evil", ProviderKind::Erp);
    for (n, (mode, status, slug)) in modes.iter().enumerate() {
        let p = h.get(Some(&evil), &format!("/api/v1/tenants/evil/erp/products/{mode}")).await.problem(*status);
        assert_eq!(p["type"], format!("urn:b2connect:problem:{slug}"), "{mode}");
        assert_eq!(erp().handle.stats().restarts.load(Ordering::SeqCst), n as u64 + 1, "{mode}: the Store was discarded");
        // A fresh instance answers the next call normally.
        let p = h.get(Some(&evil), "/api/v1/tenants/evil/erp/products/calm").await.problem(404);
        assert!(p["detail"].as_str().unwrap().contains("calm"), "{mode}");
    }
    stop.store(true, Ordering::Relaxed);
    background.await.unwrap();
    eprintln!("good tenant during hostile calls: {} ok, {} errors", ok.load(Ordering::Relaxed), errors.load(Ordering::Relaxed));
    assert_eq!(errors.load(Ordering::Relaxed), 0);
    assert!(ok.load(Ordering::Relaxed) > 10);
    let good_stats = h.provider("good", ProviderKind::Erp).handle.stats().clone();
    assert_eq!(good_stats.restarts.load(Ordering::SeqCst), 0);
    assert_eq!(h.metric("erp_provider_plugin_restarts").await, 5.0);
}
