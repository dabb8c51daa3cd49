//! A plugin that traps on one tenant: that request fails cleanly, the next
//! one runs on a fresh instance, and other tenants never notice.

use crate::util::*;
use b2c_host::ProviderKind;
use std::sync::atomic::Ordering;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trap_discards_the_instance_and_spares_other_tenants() {
    let h = std::sync::Arc::new(TestHost::start().await);
    let bad = h.add_tenant("fragile", &[("productCount", "1000"), ("trapOnProductId", "P00000013")]).await;
    let good = h.add_tenant("steady", &[("productCount", "1000")]).await;

    // State in the fragile instance before the trap: a synced product.
    let sync = serde_json::json!({ "ids": ["P00000001"] });
    assert_eq!(h.post_json(Some(&bad), "/api/v1/tenants/fragile/erp/products/batch-get", &sync).await.status, 200);
    let erp = h.provider("fragile", ProviderKind::Erp);
    let mut p = erp.get_product(pid(1)).await.unwrap();
    p.id = "EXT-BEFORE-TRAP".into();
    assert_eq!(erp.sync_products(vec![p]).await.unwrap().created, 1);

    // Meanwhile the steady tenant is hammered and must never see an error.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let background = {
        let (h, good, stop) = (h.clone(), good.clone(), stop.clone());
        tokio::spawn(async move {
            let mut ok = 0;
            while !stop.load(Ordering::Relaxed) || ok < 50 {
                // A cached answer completes without ever suspending; yield so
                // this loop cannot starve the test's own task.
                tokio::task::yield_now().await;
                let r = h.get(Some(&good), "/api/v1/tenants/steady/erp/products/P00000013").await;
                assert_eq!(r.status, 200, "steady tenant saw {}", String::from_utf8_lossy(&r.body));
                assert_eq!(r.json()["id"], "P00000013");
                ok += 1;
            }
            ok
        })
    };

    let p = h.get(Some(&bad), "/api/v1/tenants/fragile/erp/products/P00000013").await.problem(502);
    assert_eq!(p["type"], "urn:b2connect:problem:plugin-failure");
    assert!(!p["detail"].as_str().unwrap().contains("wasm"), "no internals leak: {p}");

    // Next request: a fresh instance answers.
    let r = h.get(Some(&bad), "/api/v1/tenants/fragile/erp/products/P00000014").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], "P00000014");
    let stats = erp.handle.stats();
    assert_eq!(stats.restarts.load(Ordering::SeqCst), 1);
    assert_eq!(stats.instances_created.load(Ordering::SeqCst), 2);
    // The fresh instance starts from the synthetic data: the synced record is gone.
    h.get(Some(&bad), "/api/v1/tenants/fragile/erp/products/EXT-BEFORE-TRAP").await.problem(404);

    stop.store(true, Ordering::Relaxed);
    let ok = background.await.expect("steady tenant task");
    assert!(ok >= 50);
    let steady = h.provider("steady", ProviderKind::Erp);
    assert_eq!(steady.handle.stats().restarts.load(Ordering::SeqCst), 0);
}
