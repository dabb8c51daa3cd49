//! Tenant actors serialize calls per tenant and never mix tenants' data.

use crate::util::*;
use b2c_host::ProviderKind;
use std::sync::atomic::Ordering;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_tenants_by_two_hundred_concurrent_requests() {
    // No response cache: every request must reach the plugin.
    let h = std::sync::Arc::new(TestHost::start_with(|a| a.cache_max_entries = 0).await);
    let mut tenants = Vec::new();
    for t in 0..8 {
        let id = format!("t{t}");
        let key = h.add_tenant(&id, &[("productCount", "5000")]).await;
        tenants.push((id, key));
    }
    // Baseline per tenant, fetched one by one: each tenant's data differs.
    let mut baseline = Vec::new();
    for (id, key) in &tenants {
        let r = h.get(Some(key), &format!("/api/v1/tenants/{id}/erp/products/P00000077")).await;
        assert_eq!(r.status, 200);
        baseline.push(r.json());
    }
    for i in 0..baseline.len() {
        for j in i + 1..baseline.len() {
            assert_ne!(baseline[i], baseline[j], "tenants t{i} and t{j} must have different data");
        }
    }

    let mut tasks = tokio::task::JoinSet::new();
    for (n, (id, key)) in tenants.iter().enumerate() {
        for r in 0..200 {
            let (h, id, key, expected) = (h.clone(), id.clone(), key.clone(), baseline[n].clone());
            tasks.spawn(async move {
                if r % 2 == 0 {
                    let res = h.get(Some(&key), &format!("/api/v1/tenants/{id}/erp/products/P00000077")).await;
                    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
                    assert_eq!(res.json(), expected, "tenant {id} got another tenant's record");
                } else {
                    let body = serde_json::json!({ "ids": ["P00000077", "P00000001"] });
                    let res =
                        h.post_json(Some(&key), &format!("/api/v1/tenants/{id}/erp/products/batch-get"), &body).await;
                    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
                    assert_eq!(res.json()["items"][0]["item"], expected, "tenant {id} got another tenant's record");
                }
            });
        }
    }
    let mut done = 0;
    while let Some(r) = tasks.join_next().await {
        r.expect("request task");
        done += 1;
    }
    assert_eq!(done, 1600);

    for (id, _) in &tenants {
        let p = h.provider(id, ProviderKind::Erp);
        let s = p.handle.stats();
        assert_eq!(s.overlaps.load(Ordering::SeqCst), 0, "calls overlapped inside {id}'s instance");
        assert_eq!(s.max_in_call.load(Ordering::SeqCst), 1, "{id}");
        // 1 baseline + 200 requests, all through this tenant's one actor.
        assert_eq!(s.calls.load(Ordering::SeqCst), 201, "{id}");
        assert_eq!(s.instances_created.load(Ordering::SeqCst), 1, "{id}");
    }
}
