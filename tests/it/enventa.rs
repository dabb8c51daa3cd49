//! The enventa bridge end to end: REST → host → enventa-bridge (WASM) →
//! host socket → enventa-sim, with the simulator's rule counters checked.

use crate::util::*;
use b2c_host::ProviderKind;
use enventa_sim::{Faults, Sim, SimConfig};
use serde_json::{Value, json};

async fn sim(articles: u64, customers: u64) -> Sim {
    Sim::start(SimConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        articles,
        customers,
        faults: Faults::default(),
    })
    .await
    .expect("simulator starts")
}

/// Publishes the bridge and binds `tenant` (ERP and PIM) to `sim`.
async fn bind_bridge(h: &TestHost, tenant: &str, socket: Option<&str>) -> String {
    h.publish("enventa-bridge", "1.0.0", std::fs::read(b2c_host::bundled::ENVENTA_BRIDGE_PATH).unwrap()).await;
    let mut body = json!({
        "erp": { "plugin": "enventa-bridge", "version": "^1" },
        "crm": { "plugin": "enventa-bridge", "version": "^1" },
        "pim": { "plugin": "enventa-bridge", "version": "^1" },
        "config": { "enventaUser": "b2c", "syncBatchSize": 1000 },
    });
    if let Some(s) = socket {
        body["socket"] = json!(s);
    }
    h.bind_with_key(tenant, body).await
}

fn violations(sim: &Sim) -> u64 {
    sim.stats().json()["violations"]["total"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erp_and_pim_operations_through_the_bridge() {
    let sim = sim(5000, 300).await;
    let h = TestHost::start().await;
    let key = bind_bridge(&h, "ent", Some(&sim.addr.to_string())).await;
    let k = Some(key.as_str());
    let t = "/api/v1/tenants/ent";

    let p = h.get(k, &format!("{t}/erp/products/A0000042")).await;
    assert_eq!(p.status, 200, "{}", String::from_utf8_lossy(&p.body));
    let p = p.json();
    assert_eq!(p["id"], "A0000042");
    assert!(p["sku"].as_str().unwrap().ends_with("-0000042"));
    assert_eq!(p["price"]["currency"], "EUR");
    assert!(p["categoryId"].as_str().unwrap().starts_with('G'));
    h.get(k, &format!("{t}/erp/products/A9999999")).await.problem(404);

    // 2500 ids through the typed API: the bridge cuts them into ≤ 1000.
    let erp = h.provider("ent", ProviderKind::Erp);
    let ids: Vec<String> =
        (1..=2500).map(|i| format!("A{:07}", if i % 100 == 0 { 9_000_000 + i } else { i })).collect();
    let got = erp.get_products(ids.clone()).await.unwrap();
    assert_eq!(got.len(), 2500);
    for (id, p) in ids.iter().zip(&got) {
        assert_eq!(p.as_ref().map(|p| &p.id), (!id.starts_with("A9")).then_some(id));
    }

    let lines = ndjson_lines(&h.get(k, &format!("{t}/erp/products/stream?batchSize=700")).await.body);
    assert_eq!(lines.len(), 5000);
    assert!(lines.windows(2).all(|w| w[0]["id"].as_str() < w[1]["id"].as_str()));
    let g = p["categoryId"].as_str().unwrap();
    let filtered =
        ndjson_lines(&h.get(k, &format!("{t}/erp/products/stream?categoryId={g}&nameContains=mm")).await.body);
    assert!(!filtered.is_empty() && filtered.len() < 5000);
    assert!(filtered.iter().all(|l| l["categoryId"] == g));

    let c = h.get(k, &format!("{t}/erp/customers/K000007")).await.json();
    assert_eq!((c["id"].as_str(), c["number"].as_str()), (Some("K000007"), Some("10007")));
    let cs = ndjson_lines(&h.get(k, &format!("{t}/erp/customers/stream")).await.body);
    assert_eq!(cs.len(), 300);

    let order = json!({ "customerId": "K000007", "lines": [{ "productId": "A0000042", "quantity": 3 }], "externalRef": "basket-9" });
    let o = h.post_json(k, &format!("{t}/erp/orders"), &order).await;
    assert_eq!(o.status, 201, "{}", String::from_utf8_lossy(&o.body));
    let o = o.json();
    assert_eq!(o["id"], "AU00000001");
    assert_eq!(o["total"]["amountMinor"].as_i64().unwrap(), p["price"]["amountMinor"].as_i64().unwrap() * 3);
    h.post_json(k, &format!("{t}/erp/orders"), &order).await.problem(409);
    let batch = json!([
        { "customerId": "K000008", "lines": [{ "productId": "A0000001", "quantity": 1 }] },
        { "customerId": "K999999", "lines": [{ "productId": "A0000001", "quantity": 1 }] },
    ]);
    let b = h.post_json(k, &format!("{t}/erp/orders/batch"), &batch).await.json();
    assert_eq!((b["succeeded"].as_u64(), b["failed"].as_u64()), (Some(1), Some(1)));
    assert_eq!(b["items"][0]["order"]["id"], "AU00000002");
    assert_eq!(b["items"][1]["status"], 404);
    let cb =
        h.post_json(k, &format!("{t}/erp/customers/batch-get"), &json!({ "ids": ["K000300", "K000301"] })).await.json();
    assert_eq!((cb["found"].as_u64(), cb["missing"].as_u64()), (Some(1), Some(1)));
    let mut c = h.get(k, &format!("{t}/erp/customers/K000010")).await.json();
    c["phone"] = json!("+49 40 555");
    let mut np = p.clone();
    np["id"] = json!("B2C-NEW-1");
    let bulk =
        h.post_json(k, &format!("{t}/erp/sync/bulk"), &json!({ "products": [np], "customers": [c] })).await.json();
    assert_eq!((bulk["products"]["created"].as_u64(), bulk["customers"]["updated"].as_u64()), (Some(1), Some(1)));
    assert_eq!(h.get(k, &format!("{t}/erp/customers/K000010")).await.json()["phone"], "+49 40 555");
    assert_eq!(h.get(k, &format!("{t}/erp/products/B2C-NEW-1")).await.json()["name"], p["name"]);

    let d = h.get(k, &format!("{t}/pim/products/A0000042")).await.json();
    assert_eq!(d["product"]["id"], "A0000042");
    let page = h.get(k, &format!("{t}/pim/catalog?pageSize=1000")).await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 1000);
    let token = page["continuation"].as_str().unwrap();
    let page2 = h.get(k, &format!("{t}/pim/catalog?pageSize=1000&continuation={token}")).await.json();
    assert_eq!(page2["items"][0]["product"]["id"], "A0001001");
    let cats = h.get(k, &format!("{t}/pim/categories")).await.json();
    assert_eq!(cats.as_array().unwrap().len(), 6);
    assert!(cats.as_array().unwrap().iter().any(|c| c["id"] == g), "the article's group {g} is a category");
    let ct = h.get(k, &format!("{t}/crm/contacts/C0000013")).await.json();
    assert_eq!((ct["id"].as_str(), ct["customerId"].as_str()), (Some("C0000013"), Some("K000007")));
    assert!(ct["email"].as_str().unwrap().ends_with("@kunde7.example"));
    let cts = h
        .post_json(k, &format!("{t}/crm/contacts/batch-get"), &json!({ "ids": ["C0000001", "C9999999"] }))
        .await
        .json();
    assert_eq!((cts["found"].as_u64(), cts["missing"].as_u64()), (Some(1), Some(1)));
    h.get(k, &format!("{t}/crm/contacts/C9999999")).await.problem(404);
    let p = h.get(k, &format!("{t}/crm/customers/K000007/activities")).await.problem(501);
    assert_eq!(p["type"], "urn:b2connect:problem:unsupported");

    assert_eq!(violations(&sim), 0, "{}", sim.stats().json());
    assert_eq!(sim.stats().json()["logins"], 1, "one login for the whole session");
}

fn product_json(i: u64, name: &str) -> Value {
    json!({
        "id": format!("B2C-{i:06}"), "sku": format!("SKU-{i}"), "name": name, "description": "synced",
        "categoryId": "G100", "price": { "amountMinor": 100 + i as i64, "currency": "EUR" },
        "stock": 5, "unit": "Stk", "active": true, "modifiedAt": "2026-01-01T00:00:00Z",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_sync_of_ten_thousand_records_in_batches() {
    let sim = sim(100, 10).await;
    let h = TestHost::start().await;
    let key = bind_bridge(&h, "ent", Some(&sim.addr.to_string())).await;
    let records: Vec<Value> = (1..=10_000).map(|i| product_json(i, &format!("Synced {i}"))).collect();
    let r = h.post_json(Some(&key), "/api/v1/tenants/ent/erp/sync/products", &json!(records)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = r.json();
    assert_eq!(
        (r["received"].as_u64(), r["created"].as_u64(), r["failed"].as_u64()),
        (Some(10_000), Some(10_000), Some(0))
    );
    assert_eq!(sim.stats().json()["upserts"], 10, "committed in 10 batches of 1000");
    // The same records again: the host's delta state sends only the one
    // changed (and now invalid) record, which fails alone.
    let mut again = records.clone();
    again[5]["name"] = json!("");
    let r = h.post_json(Some(&key), "/api/v1/tenants/ent/erp/sync/products", &json!(again)).await.json();
    assert_eq!(
        (r["received"].as_u64(), r["unchanged"].as_u64(), r["failed"].as_u64()),
        (Some(10_000), Some(9_999), Some(1))
    );
    assert_eq!(r["failures"][0]["index"], 5, "failure index refers to the request");
    assert_eq!(r["failures"][0]["id"], "B2C-000006");
    assert_eq!(r["failures"][0]["error"]["status"], 422);
    assert_eq!(sim.stats().json()["upserts"], 11, "one more batch, with one record");
    // A second delta sync of unchanged records sends nothing, also after a
    // host restart (the sync state is in SQLite).
    let r = h.post_json(Some(&key), "/api/v1/tenants/ent/erp/sync/products", &json!(records)).await.json();
    assert_eq!((r["unchanged"].as_u64(), r["created"].as_u64()), (Some(10_000), Some(0)));
    assert_eq!(sim.stats().json()["upserts"], 11);
    let h = h.restart().await;
    let r = h.post_json(Some(&key), "/api/v1/tenants/ent/erp/sync/products", &json!(records)).await.json();
    assert_eq!(r["unchanged"].as_u64(), Some(10_000));
    assert_eq!(sim.stats().json()["upserts"], 11, "nothing re-sent after the restart");
    let mut five = records[100..105].to_vec();
    for p in &mut five {
        p["stock"] = json!(99);
    }
    let r = h.post_json(Some(&key), "/api/v1/tenants/ent/erp/sync/products", &json!(five)).await.json();
    assert_eq!((r["updated"].as_u64(), r["unchanged"].as_u64()), (Some(5), Some(0)));
    assert_eq!(sim.stats().json()["upserts"], 12);
    let t = h.admin("GET", "/admin/v1/tenants/ent", None).await.json();
    assert_eq!(t["sync"][0]["provider"], "enventa-bridge");
    assert_eq!(t["sync"][0]["entity"], "product");
    assert_eq!(t["sync"][0]["records"], 10_000);
    let p = h.get(Some(&key), "/api/v1/tenants/ent/erp/products/B2C-000777").await.json();
    assert_eq!(p["name"], "Synced 777");
    assert_eq!(violations(&sim), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tenants_by_two_hundred_concurrent_requests_cause_no_violations() {
    let sim = std::sync::Arc::new(sim(2000, 50).await);
    let h = std::sync::Arc::new(TestHost::start_with(|a| a.cache_max_entries = 0).await);
    let mut keys = Vec::new();
    for n in 0..50 {
        keys.push((format!("ent{n}"), bind_bridge(&h, &format!("ent{n}"), Some(&sim.addr.to_string())).await));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (tenant, key) in &keys {
        for r in 0..200u64 {
            let (h, tenant, key) = (h.clone(), tenant.clone(), key.clone());
            tasks.spawn(async move {
                let id = format!("A{:07}", 1 + (r * 37) % 2000);
                let res = h.get(Some(&key), &format!("/api/v1/tenants/{tenant}/erp/products/{id}")).await;
                assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
                assert_eq!(res.json()["id"], id.as_str());
            });
        }
    }
    let mut done = 0;
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
        done += 1;
    }
    assert_eq!(done, 10_000);
    assert_eq!(violations(&sim), 0, "{}", sim.stats().json());
    assert_eq!(sim.stats().json()["logins"], 50, "one session per tenant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_article_stream_arrives_complete_and_in_order() {
    let sim = sim(1_000_000, 10).await;
    let h = TestHost::start().await;
    let key = bind_bridge(&h, "big", Some(&sim.addr.to_string())).await;
    let r = h.get(Some(&key), "/api/v1/tenants/big/erp/products/stream?batchSize=5000").await;
    assert_eq!(r.status, 200);
    let mut n = 0u64;
    for line in r.body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        n += 1;
        let expected = format!("{{\"id\":\"A{n:07}\"");
        assert!(
            line.starts_with(expected.as_bytes()),
            "line {n}: {}",
            String::from_utf8_lossy(&line[..40.min(line.len())])
        );
    }
    assert_eq!(n, 1_000_000);
    assert_eq!(violations(&sim), 0);
}

#[tokio::test]
async fn no_grant_or_a_dead_container_is_503() {
    let h = TestHost::start_with(|a| a.call_timeout_ms = 5000).await;
    let key = bind_bridge(&h, "nogrant", None).await;
    let p = h.get(Some(&key), "/api/v1/tenants/nogrant/erp/products/A0000001").await.problem(503);
    assert!(p["detail"].as_str().unwrap().contains("no enventa endpoint"), "{p}");

    // A container that is gone: connection refused, answered quickly.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let key = bind_bridge(&h, "dead", Some(&dead)).await;
    let p = h.get(Some(&key), "/api/v1/tenants/dead/erp/products/A0000001").await.problem(503);
    assert_eq!(p["type"], "urn:b2connect:problem:provider-unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flaky_container_reads_succeed_through_retries_and_writes_are_not_duplicated() {
    let sim = sim(500, 20).await;
    let h = TestHost::start_with(|a| a.cache_max_entries = 0).await;
    let key = bind_bridge(&h, "ent", Some(&sim.addr.to_string())).await;
    // Warm the session before the faults start.
    assert_eq!(h.get(Some(&key), "/api/v1/tenants/ent/erp/products/A0000001").await.status, 200);
    sim.set_faults(Faults { error_rate: 0.3, ..Default::default() });
    for i in 1..=100u64 {
        let id = format!("A{:07}", i);
        let r = h.get(Some(&key), &format!("/api/v1/tenants/ent/erp/products/{id}")).await;
        assert_eq!(r.status, 200, "read {id} failed despite retries: {}", String::from_utf8_lossy(&r.body));
    }
    assert!(sim.stats().json()["faults"]["errors"].as_u64().unwrap() > 10, "faults were injected");
    let mut created = 0;
    for i in 0..20 {
        let order = json!({ "customerId": "K000001", "lines": [{ "productId": "A0000001", "quantity": 1 }], "externalRef": format!("r{i}") });
        let r = h.post_json(Some(&key), "/api/v1/tenants/ent/erp/orders", &order).await;
        match r.status.as_u16() {
            201 => created += 1,
            503 => {}
            other => panic!("unexpected {other}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
    assert!(created > 0 && created < 20, "{created}");
    assert_eq!(sim.stats().json()["orders"].as_u64().unwrap(), created, "every 201 is exactly one ERP order");
    assert_eq!(violations(&sim), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_container_gives_503_then_the_breaker_and_recovery_with_relogin() {
    let first = sim(100, 10).await;
    let addr = first.addr;
    let h = TestHost::start_with(|a| {
        a.cache_max_entries = 0;
        a.breaker_threshold = 3;
        a.breaker_cooldown_ms = 300;
        a.call_timeout_ms = 5000;
    })
    .await;
    let key = bind_bridge(&h, "ent", Some(&addr.to_string())).await;
    let get = |id: &'static str| {
        let (h, key) = (&h, key.clone());
        async move { h.get(Some(&key), &format!("/api/v1/tenants/ent/erp/products/{id}")).await }
    };
    assert_eq!(get("A0000001").await.status, 200);
    first.stop();
    drop(first);
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let p = get("A0000002").await.problem(503);
        assert_eq!(p["type"], "urn:b2connect:problem:provider-unavailable", "{p}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "503 within the call timeout");
    }
    // Three failures in a row: the breaker fails fast.
    let r = get("A0000002").await;
    let p = r.problem(503);
    assert_eq!(p["type"], "urn:b2connect:problem:circuit-open");
    assert!(r.headers.contains_key("retry-after"));
    // The container comes back on the same address: after the cooldown a
    // probe reconnects, logs in again, and the breaker closes.
    let second = Sim::start(SimConfig {
        listen: addr,
        admin_listen: None,
        articles: 100,
        customers: 10,
        faults: Faults::default(),
    })
    .await
    .expect("restart on the same port");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let r = get("A0000003").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["id"], "A0000003");
    assert_eq!(second.stats().json()["logins"], 1, "re-login after the restart");
    assert_eq!(violations(&second), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_container_gives_504_and_the_tenant_recovers() {
    let sim = sim(100, 10).await;
    let h = TestHost::start_with(|a| {
        a.cache_max_entries = 0;
        a.call_timeout_ms = 400;
    })
    .await;
    let key = bind_bridge(&h, "ent", Some(&sim.addr.to_string())).await;
    assert_eq!(h.get(Some(&key), "/api/v1/tenants/ent/erp/products/A0000001").await.status, 200);
    sim.set_faults(Faults { hang: true, ..Default::default() });
    let p = h.get(Some(&key), "/api/v1/tenants/ent/erp/products/A0000002").await.problem(504);
    assert_eq!(p["type"], "urn:b2connect:problem:plugin-timeout");
    sim.set_faults(Faults::default());
    let r = h.get(Some(&key), "/api/v1/tenants/ent/erp/products/A0000002").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let erp = h.provider("ent", ProviderKind::Erp);
    assert_eq!(
        erp.handle.stats().restarts.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the hung instance was replaced"
    );
    assert_eq!(erp.handle.queue_depth(), 0);
    assert_eq!(violations(&sim), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_container_does_not_slow_another_tenant() {
    let hung = sim(100, 10).await;
    let healthy = sim(100, 10).await;
    let h = std::sync::Arc::new(
        TestHost::start_with(|a| {
            a.cache_max_entries = 0;
            a.call_timeout_ms = 3000;
        })
        .await,
    );
    let ka = bind_bridge(&h, "stuck", Some(&hung.addr.to_string())).await;
    let kb = bind_bridge(&h, "fine", Some(&healthy.addr.to_string())).await;
    assert_eq!(h.get(Some(&ka), "/api/v1/tenants/stuck/erp/products/A0000001").await.status, 200);
    hung.set_faults(Faults { hang: true, ..Default::default() });
    let stuck = {
        let (h, ka) = (h.clone(), ka.clone());
        tokio::spawn(async move { h.get(Some(&ka), "/api/v1/tenants/stuck/erp/products/A0000002").await.status })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    for i in 1..=20 {
        let r = h.get(Some(&kb), &format!("/api/v1/tenants/fine/erp/products/A{i:07}")).await;
        assert_eq!(r.status, 200);
    }
    assert!(!stuck.is_finished(), "the other tenant was served while the hung call was still waiting");
    assert_eq!(stuck.await.unwrap(), 504);
}
