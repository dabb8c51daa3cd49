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
        ..Default::default()
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
    // The same order under the same externalRef is the same order (§3.6).
    let again = h.post_json(k, &format!("{t}/erp/orders"), &order).await;
    assert_eq!((again.status.as_u16(), again.json()["id"].as_str()), (201, Some("AU00000001")));
    let mut other = order.clone();
    other["lines"][0]["quantity"] = json!(4);
    let p409 = h.post_json(k, &format!("{t}/erp/orders"), &other).await.problem(409);
    assert!(p409["detail"].as_str().unwrap().contains("AU00000001"), "{p409}");
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
    let cats = cats.as_array().unwrap();
    assert_eq!(cats.len(), 8, "two roots, six leaves");
    // One group id on every surface (§3.7), and the PIM path is the group's.
    let cat = cats.iter().find(|c| c["id"] == g).unwrap_or_else(|| panic!("the article's group {g} is a category"));
    assert_eq!(d["product"]["categoryId"], g);
    let parent = cat["parentId"].as_str().expect("leaf groups have a parent");
    assert!(cats.iter().any(|c| c["id"] == parent && c["parentId"].is_null()), "{parent} is a root");
    let path: Vec<&str> = cat["path"].as_str().unwrap().split(" / ").collect();
    assert_eq!(path.len(), 2);
    assert_eq!(d["categoryPath"], json!(path));
    // A continuation token belongs to its query: with other filters it is refused.
    let other = h.get(k, &format!("{t}/pim/catalog?pageSize=10&search=mm&continuation={token}")).await;
    other.problem(422);
    // `%` in a search is a literal character under 1.1, not a wildcard.
    let none = h.get(k, &format!("{t}/pim/catalog?pageSize=10&search=%25")).await.json();
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "no article name contains a literal %");
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
    // The host's first pull (100 records) was one Query; one server stream
    // (§3.10) carried the rest from its continuation, in pages of 2000.
    assert_eq!(stat(&sim, "streams"), 1, "{}", sim.stats().json());
    assert_eq!(stat(&sim, "streamPages"), 500, "{}", sim.stats().json());
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
    // §4.2: each retry ran on a fresh connection, the old session ended with Logout.
    let (logouts, connections) = (stat(&sim, "logouts"), stat(&sim, "connections"));
    assert!(logouts > 10 && connections == logouts + 1, "logouts {logouts}, connections {connections}");
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
        // Long enough that the fail-fast answer and /readyz below see the
        // breaker open however slow the machine; the probe loop waits it out.
        a.breaker_cooldown_ms = 3000;
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
    // /readyz: the host is ready, this tenant is not (its container does
    // not accept connections and its breaker is open); demo is.
    let ready = h.get(None, "/readyz").await;
    assert_eq!(ready.status, 200);
    let ready = ready.json();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["notReady"], json!(["ent"]), "{ready}");
    let ent = ready["providers"].as_array().unwrap().iter().find(|p| p["tenant"] == "ent").unwrap();
    assert_eq!(
        (&ent["ready"], &ent["backend"], &ent["breaker"]),
        (&json!(false), &json!("unreachable"), &json!("open"))
    );
    let demo = ready["providers"].as_array().unwrap().iter().find(|p| p["tenant"] == "demo").unwrap();
    assert_eq!((&demo["ready"], &demo["backend"]), (&json!(true), &Value::Null));
    // The container comes back on the same address: after the cooldown a
    // probe reconnects, logs in again, and the breaker closes.
    let second = Sim::start(SimConfig {
        listen: addr,
        admin_listen: None,
        articles: 100,
        customers: 10,
        faults: Faults::default(),
        ..Default::default()
    })
    .await
    .expect("restart on the same port");
    // Until the cooldown ends, calls fail fast (circuit open); the first
    // call after it is the probe that reconnects. Polled, not slept.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut fast_fails = 0;
    let r = loop {
        let r = get("A0000003").await;
        if r.status != 503 {
            break r;
        }
        assert_eq!(r.problem(503)["type"], "urn:b2connect:problem:circuit-open", "only the open breaker refuses");
        fast_fails += 1;
        assert!(std::time::Instant::now() < deadline, "the breaker never let a probe through");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    eprintln!("{fast_fails} calls failed fast before the probe reconnected");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["id"], "A0000003");
    assert_eq!(second.stats().json()["logins"], 1, "re-login after the restart");
    let ready = h.get(None, "/readyz").await.json();
    assert_eq!(ready["notReady"], json!([]), "{ready}");
    let ent = ready["providers"].as_array().unwrap().iter().find(|p| p["tenant"] == "ent").unwrap();
    assert_eq!((&ent["ready"], &ent["backend"], &ent["breaker"]), (&json!(true), &json!("up"), &json!("closed")));
    assert_eq!(violations(&second), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_container_gives_504_and_the_tenant_recovers() {
    let sim = sim(100, 10).await;
    let h = TestHost::start_with(|a| {
        a.cache_max_entries = 0;
        // Covers the recovery call's new instance, connect, Hello, Login
        // and read on a loaded machine; the hung call waits it out.
        a.call_timeout_ms = 2000;
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
    // The stuck call is in flight once the simulator holds it hung.
    while hung.stats().faults_hung.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(!stuck.is_finished(), "the hung call returned early");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    for i in 1..=20 {
        let r = h.get(Some(&kb), &format!("/api/v1/tenants/fine/erp/products/A{i:07}")).await;
        assert_eq!(r.status, 200);
    }
    assert!(!stuck.is_finished(), "the other tenant was served while the hung call was still waiting");
    assert_eq!(stuck.await.unwrap(), 504);
}

// ---- protocol 1.1: exactly-once orders, announced limits, shared logins ----

async fn sim_with(articles: u64, customers: u64, protocol: enventa_sim::ProtocolConfig) -> Sim {
    Sim::start(SimConfig {
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        articles,
        customers,
        protocol,
        ..Default::default()
    })
    .await
    .expect("simulator starts")
}

fn stat(sim: &Sim, name: &str) -> u64 {
    sim.stats().json()[name].as_u64().unwrap()
}

/// POST with an optional Idempotency-Key.
async fn post_keyed(h: &TestHost, key: &str, path: &str, idem: Option<&str>, body: &Value) -> Resp {
    let mut b = axum::http::Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json");
    if let Some(k) = idem {
        b = b.header("idempotency-key", k);
    }
    h.request(b.body(axum::body::Body::from(body.to_string())).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_created_exactly_once_when_the_answer_is_lost() {
    let sim = sim(100, 10).await;
    let h = TestHost::start_with(|a| a.cache_max_entries = 0).await;
    let key = bind_bridge(&h, "ent", Some(&sim.addr.to_string())).await;
    let orders = "/api/v1/tenants/ent/erp/orders";
    let order = |article: &str, qty: u32| json!({ "customerId": "K000003", "lines": [{ "productId": article, "quantity": qty }] });

    // Without a client key: the container commits, the answer is lost; the
    // bridge finds the order by the host-derived reference in the same call.
    sim.set_faults(Faults { commit_then_drop: 1, ..Default::default() });
    let r = post_keyed(&h, &key, orders, None, &order("A0000001", 2)).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let first = r.json();
    assert_eq!(first["id"], "AU00000001");
    assert_eq!(first["lines"][0]["quantity"], 2);
    assert!(first["externalRef"].as_str().unwrap().starts_with("b2c-"), "{first}");
    assert_eq!((stat(&sim, "orders"), stat(&sim, "orderLookups")), (1, 1), "{}", sim.stats().json());
    assert_eq!(sim.stats().json()["faults"]["dropped"], 1, "the answer was really lost");

    // With a key, and the container unavailable after the commit: the call
    // fails (503), the retry with the same key returns the first order.
    sim.set_faults(Faults { commit_then_drop: 1, unavailable_after_drop: 10_000, ..Default::default() });
    let p = post_keyed(&h, &key, orders, Some("checkout-77"), &order("A0000002", 1)).await.problem(503);
    assert_eq!(p["type"], "urn:b2connect:problem:provider-unavailable", "{p}");
    assert_eq!(stat(&sim, "orders"), 2, "the ERP committed it");
    sim.set_faults(Faults::default());
    let r = post_keyed(&h, &key, orders, Some("checkout-77"), &order("A0000002", 1)).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["id"], "AU00000002", "the retry returns the first order");
    assert_eq!(r.json()["externalRef"], "checkout-77");
    assert_eq!(stat(&sim, "orders"), 2, "no second ERP order");
    let again = post_keyed(&h, &key, orders, Some("checkout-77"), &order("A0000002", 1)).await;
    assert_eq!((again.status.as_u16(), again.json()["id"].as_str()), (201, Some("AU00000002")));
    assert_eq!(again.headers["idempotent-replayed"], "true");

    // A client externalRef: a repeat of the same order returns it; another
    // order under the same reference is a 409 naming the existing order.
    let mut basket = order("A0000003", 4);
    basket["externalRef"] = json!("basket-9");
    let a = post_keyed(&h, &key, orders, None, &basket).await.json();
    assert_eq!(a["id"], "AU00000003");
    let b = post_keyed(&h, &key, orders, None, &basket).await;
    assert_eq!((b.status.as_u16(), b.json()["id"].as_str()), (201, Some("AU00000003")));
    let mut other = basket.clone();
    other["lines"][0]["quantity"] = json!(5);
    let p = post_keyed(&h, &key, orders, None, &other).await.problem(409);
    assert!(p["detail"].as_str().unwrap().contains("AU00000003"), "{p}");
    assert_eq!(stat(&sim, "orders"), 3);

    // A batch: two lost answers, both recovered in the call.
    let batch = json!([order("A0000004", 1), order("A0000005", 1), order("A0000006", 1)]);
    sim.set_faults(Faults { commit_then_drop: 2, ..Default::default() });
    let r = post_keyed(&h, &key, &format!("{orders}/batch"), None, &batch).await.json();
    assert_eq!((r["succeeded"].as_u64(), r["failed"].as_u64()), (Some(3), Some(0)), "{r}");
    let ids: Vec<&str> = r["items"].as_array().unwrap().iter().map(|i| i["order"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["AU00000004", "AU00000005", "AU00000006"]);
    assert_eq!(stat(&sim, "orders"), 6);

    // A batch with a key whose first answer is lost and the container then
    // unavailable: resending it with the same key creates only the rest.
    let batch = json!([order("A0000007", 1), order("A0000008", 2), order("A0000009", 3)]);
    sim.set_faults(Faults { commit_then_drop: 1, unavailable_after_drop: 10_000, ..Default::default() });
    let r = post_keyed(&h, &key, &format!("{orders}/batch"), Some("batch-5"), &batch).await.json();
    assert_eq!((r["succeeded"].as_u64(), r["failed"].as_u64()), (Some(0), Some(3)), "{r}");
    assert_eq!(r["items"][0]["status"], 503);
    assert_eq!(stat(&sim, "orders"), 7, "the first order was committed");
    sim.set_faults(Faults::default());
    let r = post_keyed(&h, &key, &format!("{orders}/batch"), Some("batch-5"), &batch).await.json();
    assert_eq!((r["succeeded"].as_u64(), r["failed"].as_u64()), (Some(3), Some(0)), "{r}");
    let ids: Vec<&str> = r["items"].as_array().unwrap().iter().map(|i| i["order"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["AU00000007", "AU00000008", "AU00000009"]);
    assert_eq!(r["items"][0]["order"]["externalRef"], "batch-5#0");
    assert_eq!(stat(&sim, "orders"), 9, "exactly one ERP order per batch item");
    assert_eq!(violations(&sim), 0, "{}", sim.stats().json());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_point_zero_container_keeps_working() {
    let sim = sim_with(500, 10, enventa_sim::ProtocolConfig { minor_version: 0, ..Default::default() }).await;
    let h = TestHost::start_with(|a| a.cache_max_entries = 0).await;
    let key = bind_bridge(&h, "old", Some(&sim.addr.to_string())).await;
    let t = "/api/v1/tenants/old";
    assert_eq!(h.get(Some(&key), &format!("{t}/erp/products/A0000042")).await.json()["id"], "A0000042");
    let lines = ndjson_lines(&h.get(Some(&key), &format!("{t}/erp/products/stream?nameContains=mm")).await.body);
    assert_eq!(lines.len(), 500);
    let order = json!({ "customerId": "K000001", "lines": [{ "productId": "A0000001", "quantity": 1 }] });
    let r = post_keyed(&h, &key, &format!("{t}/erp/orders"), Some("k1"), &order).await;
    assert_eq!((r.status.as_u16(), r.json()["id"].as_str()), (201, Some("AU00000001")));
    // 1.0 has no lookup: a lost answer stays an error (§7), never a guess.
    sim.set_faults(Faults { commit_then_drop: 1, ..Default::default() });
    post_keyed(&h, &key, &format!("{t}/erp/orders"), Some("k2"), &order).await.problem(503);
    assert_eq!(stat(&sim, "orderLookups"), 0);
    // 1.0 has no StreamQuery: the stream above paged with Query (§7).
    assert_eq!(stat(&sim, "streams"), 0);
    assert_eq!(violations(&sim), 0, "{}", sim.stats().json());
}

/// §3.10: a REST stream reads a server stream with credit; a call of the
/// same tenant in the middle suspends it (CancelStream) and the stream then
/// continues from its last page, every record exactly once and in order; a
/// client that goes away cancels the ERP stream and frees the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_pushed_with_credit_and_survive_calls_in_between() {
    use http_body_util::BodyExt;
    const N: u64 = 20_000;
    let sim = sim(N, 10).await;
    let h = TestHost::start_with(|a| a.cache_max_entries = 0).await;
    let key = bind_bridge(&h, "push", Some(&sim.addr.to_string())).await;
    let t = "/api/v1/tenants/push";
    let open = |path: String| {
        let req = axum::http::Request::get(path)
            .header("authorization", format!("Bearer {key}"))
            .body(axum::body::Body::empty())
            .unwrap();
        tower::ServiceExt::oneshot(h.app.clone(), req)
    };
    let res = open(format!("{t}/erp/products/stream?batchSize=500")).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.into_body();
    let mut bytes = body.frame().await.unwrap().unwrap().into_data().unwrap().to_vec();
    assert!(bytes.starts_with(b"{\"id\":\"A0000001\""), "{}", String::from_utf8_lossy(&bytes[..40]));
    // The first batch (100 records) came from a Query, the second from the
    // stream the cursor opened after it.
    bytes.extend_from_slice(&body.frame().await.unwrap().unwrap().into_data().unwrap());
    assert_eq!(ndjson_lines(&bytes).len(), 600);
    assert_eq!(stat(&sim, "streams"), 1, "{}", sim.stats().json());
    // Calls of the same tenant while the ERP stream is open.
    assert_eq!(h.get(Some(&key), &format!("{t}/erp/products/A0000042")).await.json()["id"], "A0000042");
    let other = ndjson_lines(&h.get(Some(&key), &format!("{t}/erp/customers/stream")).await.body);
    assert_eq!(other.len(), 10);
    while let Some(f) = body.frame().await {
        bytes.extend_from_slice(&f.unwrap().into_data().unwrap());
    }
    let lines = ndjson_lines(&bytes);
    let ids: Vec<String> = lines.iter().map(|l| l["id"].as_str().unwrap().to_string()).collect();
    let expected: Vec<String> = (1..=N).map(|i| format!("A{i:07}")).collect();
    assert!(
        ids == expected,
        "{} records, first difference at {:?}",
        ids.len(),
        ids.iter().zip(&expected).position(|(a, b)| a != b)
    );
    let s = sim.stats().json();
    // The products stream opened, was suspended by the calls, and reopened;
    // the customers stream (10 records, one Query) opened none. Pages of
    // 2000: at least (N - 100) / 2000.
    assert!(s["streams"].as_u64().unwrap() >= 2, "{s}");
    assert!(s["streamPages"].as_u64().unwrap() >= (N - 100) / 2000, "{s}");
    assert_eq!((s["violations"]["total"].as_u64(), s["protocolErrors"].as_u64()), (Some(0), Some(0)), "{s}");

    // A client that goes away mid-stream: the cursor is dropped, the ERP
    // stream cancelled, and the next call finds the session free.
    let res = open(format!("{t}/erp/products/stream?batchSize=100")).await.unwrap();
    let mut body = res.into_body();
    // The second batch comes from an open stream.
    body.frame().await.unwrap().unwrap();
    body.frame().await.unwrap().unwrap();
    let streams = stat(&sim, "streams");
    let stats = h.provider("push", ProviderKind::Erp).handle.stats().clone();
    drop(body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stats.open_cursors.load(std::sync::atomic::Ordering::SeqCst) > 0 {
        assert!(std::time::Instant::now() < deadline, "the cursor was not closed");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(h.get(Some(&key), &format!("{t}/erp/products/A0000007")).await.json()["id"], "A0000007");
    let s = sim.stats().json();
    assert_eq!((s["violations"]["total"].as_u64(), s["protocolErrors"].as_u64()), (Some(0), Some(0)), "{s}");
    assert_eq!(s["streams"].as_u64(), Some(streams), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_honours_a_small_containers_announced_limits() {
    let protocol = enventa_sim::ProtocolConfig {
        max_ids_per_request: 100,
        max_page_size: 500,
        max_frame_bytes: 64 * 1024,
        ..Default::default()
    };
    let sim = sim_with(5000, 10, protocol).await;
    let h = TestHost::start_with(|a| a.cache_max_entries = 0).await;
    let key = bind_bridge(&h, "small", Some(&sim.addr.to_string())).await;
    let t = "/api/v1/tenants/small";
    let ids: Vec<String> = (1..=1000).map(|i| format!("A{:07}", i * 3)).collect();
    let r = h.post_json(Some(&key), &format!("{t}/erp/products/batch-get"), &json!({ "ids": ids })).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = r.json();
    assert_eq!((r["found"].as_u64(), r["missing"].as_u64()), (Some(1000), Some(0)), "{}", &r.to_string()[..200]);
    let lines = ndjson_lines(&h.get(Some(&key), &format!("{t}/erp/products/stream?batchSize=2000")).await.body);
    assert_eq!(lines.len(), 5000);
    // 3000 records of about 1.5 KiB: 100 per Upsert would be ~150 KiB, so
    // the bridge must cut by bytes as well.
    let records: Vec<Value> = (1..=3000)
        .map(|i| {
            let mut p = product_json(i, &format!("Big {i}"));
            p["description"] = json!("x".repeat(1500));
            p
        })
        .collect();
    let r = h.post_json(Some(&key), &format!("{t}/erp/sync/products"), &json!(records)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = r.json();
    assert_eq!((r["created"].as_u64(), r["failed"].as_u64()), (Some(3000), Some(0)), "{r}");
    let upserts = stat(&sim, "upserts");
    assert!(upserts >= 3000 * 1500 / (64 * 1024), "split by bytes: {upserts} upserts");
    assert_eq!(violations(&sim), 0, "{}", sim.stats().json());
    assert_eq!(sim.stats().json()["protocolErrors"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tenants_start_cold_on_one_container_with_a_slow_login() {
    let sim = std::sync::Arc::new(sim(100, 10).await);
    sim.set_faults(Faults { login_delay_ms: 500, ..Default::default() });
    let h = std::sync::Arc::new(
        TestHost::start_with(|a| {
            a.cache_max_entries = 0;
            a.call_timeout_ms = 60_000;
            a.socket_io_timeout_ms = 60_000;
        })
        .await,
    );
    let mut keys = Vec::new();
    for n in 0..50 {
        keys.push((format!("cold{n}"), bind_bridge(&h, &format!("cold{n}"), Some(&sim.addr.to_string())).await));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (n, (tenant, key)) in keys.into_iter().enumerate() {
        let h = h.clone();
        tasks.spawn(async move {
            let id = format!("A{:07}", n + 1);
            let r = h.get(Some(&key), &format!("/api/v1/tenants/{tenant}/erp/products/{id}")).await;
            (r.status.as_u16(), r.json()["id"].as_str().map(str::to_string), id)
        });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        let (status, got, want) = r.unwrap();
        assert_eq!((status, got.as_deref()), (200, Some(want.as_str())));
        ok += 1;
    }
    assert_eq!(ok, 50);
    assert_eq!(violations(&sim), 0, "{}", sim.stats().json());
    assert_eq!(stat(&sim, "logins"), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_failing_in_batch_two_reports_what_was_committed_and_a_resync_sends_all() {
    let sim = sim(10, 10).await;
    let h = TestHost::start_with(|a| a.cache_max_entries = 0).await;
    let key = bind_bridge(&h, "ent", Some(&sim.addr.to_string())).await;
    let path = "/api/v1/tenants/ent/erp/sync/products";
    let records: Vec<Value> = (1..=3000).map(|i| product_json(i, &format!("Synced {i}"))).collect();
    sim.set_faults(Faults { drop_upsert_number: 2, ..Default::default() });
    let r = h.post_json(Some(&key), path, &json!(records)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = r.json();
    assert_eq!(
        (r["received"].as_u64(), r["created"].as_u64(), r["failed"].as_u64()),
        (Some(3000), Some(1000), Some(2000))
    );
    let failures = r["failures"].as_array().unwrap();
    let failed: Vec<u64> = failures.iter().map(|f| f["index"].as_u64().unwrap()).collect();
    assert_eq!(failed, (1000..3000).collect::<Vec<u64>>(), "exactly the records after batch 1");
    assert_eq!(failures[0]["id"], "B2C-001001");
    assert_eq!(failures[0]["error"]["status"], 503);
    assert!(failures[0]["error"]["detail"].as_str().unwrap().contains("batch 2 of 3"), "{}", failures[0]);
    assert!(failures[1000]["error"]["detail"].as_str().unwrap().contains("not sent"), "{}", failures[1000]);
    assert_eq!(stat(&sim, "upserts"), 1, "only batch 1 was committed");
    let k = Some(key.as_str());
    assert_eq!(h.get(k, "/api/v1/tenants/ent/erp/products/B2C-001000").await.status, 200);
    h.get(k, "/api/v1/tenants/ent/erp/products/B2C-001001").await.problem(404);

    // The resend sends only what was not committed.
    sim.set_faults(Faults::default());
    let r = h.post_json(k, path, &json!(records)).await.json();
    assert_eq!(
        (r["created"].as_u64(), r["unchanged"].as_u64(), r["failed"].as_u64()),
        (Some(2000), Some(1000), Some(0))
    );
    assert_eq!(stat(&sim, "upserts"), 3, "two more batches, not three");
    let r = h.post_json(k, path, &json!(records)).await.json();
    assert_eq!(r["unchanged"].as_u64(), Some(3000));
    assert_eq!(stat(&sim, "upserts"), 3, "nothing to send");

    // After an ERP restore the operator forces a full resync.
    let reset = h.admin("POST", "/admin/v1/tenants/ent/sync/reset", None).await;
    assert_eq!(reset.status, 200, "{}", String::from_utf8_lossy(&reset.body));
    assert_eq!(reset.json()["forgotten"], 3000);
    let r = h.post_json(k, path, &json!(records)).await.json();
    assert_eq!(r["unchanged"].as_u64(), Some(3000), "the ERP still has them: merged, unchanged");
    assert_eq!(stat(&sim, "upserts"), 6, "every record was sent again");
    h.admin("POST", "/admin/v1/tenants/nobody/sync/reset", None).await.problem(404);
    let audit = h.admin("GET", "/admin/v1/audit", None).await.json();
    assert!(audit.to_string().contains("sync.reset"), "the reset is audited");
    assert_eq!(violations(&sim), 0);
}

/// `b2c-host plugin check` on the bridge against the simulator: the
/// provider conformance rules hold for the enventa path too, with writes,
/// and without one protocol violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_passes_the_provider_conformance_check() {
    use b2c_host::conformance::{CheckOptions, Outcome, check};
    let sim = sim(1500, 300).await;
    let opts = CheckOptions {
        config: [("enventaUser".to_string(), "b2c".to_string())].into(),
        socket: Some(sim.addr.to_string()),
        writes: true,
        ..CheckOptions::default()
    };
    let bytes = std::fs::read(b2c_host::bundled::ENVENTA_BRIDGE_PATH).unwrap();
    let rows = check(&bytes, Default::default(), &opts).await.expect("the bridge loads");
    let failed: Vec<_> = rows.iter().filter(|r| matches!(r.outcome, Outcome::Fail(_))).collect();
    assert!(failed.is_empty(), "{rows:#?}");
    let skipped: Vec<&str> = rows.iter().filter(|r| matches!(r.outcome, Outcome::Skip(_))).map(|r| r.rule).collect();
    // enventa has no activities: the bridge answers unsupported.
    assert_eq!(skipped, ["crm.activities.unknown-customer-not-found"], "{rows:#?}");
    assert_eq!(rows.len(), 21);
    let cover = rows.iter().find(|r| r.rule == "pim.catalog.pages-cover-the-stream").unwrap();
    assert_eq!(cover.outcome, Outcome::Pass("the pages and the stream hold the same 1500 entries".into()));
    assert_eq!(violations(&sim), 0);
    assert_eq!(sim.stats().json()["orders"], 2, "the check sent two orders in one create-orders");
    // The check ends its instance as a tenant's ends: every session it
    // logged in to was logged out (`lifecycle.shutdown` for the last one).
    let (logins, logouts) = (stat(&sim, "logins"), stat(&sim, "logouts"));
    assert!(logins >= 1 && logouts == logins, "logins {logins}, logouts {logouts}");
}

/// The bridge reads its settings by the SDK's rule, in `lifecycle.init`
/// (contract 1.1): a `syncBatchSize` that does not parse refuses the bind,
/// 422 naming the key and the value; nothing is bound and the container
/// never hears of it (init does not connect). It used to bind, and then
/// fail each sync (and before that, fall back to 1000 silently).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_sync_batch_size_refuses_the_bind_naming_the_key() {
    let sim = sim(100, 10).await;
    let h = TestHost::start().await;
    h.publish("enventa-bridge", "1.0.0", std::fs::read(b2c_host::bundled::ENVENTA_BRIDGE_PATH).unwrap()).await;
    let body = |size: &str| {
        json!({
            "erp": { "plugin": "enventa-bridge", "version": "^1" },
            "config": { "enventaUser": "b2c", "syncBatchSize": size },
            "socket": sim.addr.to_string(),
        })
    };
    let p = h.admin("PUT", "/admin/v1/tenants/ent", Some(body("lots"))).await.problem(422);
    assert_eq!(p["type"], "urn:b2connect:problem:invalid-input", "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("enventa-bridge@1.0.0 refused the binding"), "{detail}");
    assert!(
        detail.contains("invalid-input") && detail.contains("syncBatchSize") && detail.contains("lots"),
        "{detail}"
    );
    assert!(h.state.runtime.provider("ent", ProviderKind::Erp).is_none(), "nothing is bound");
    let t = h.admin("GET", "/admin/v1/tenants/ent", None).await;
    assert!(t.status == 404 || t.json()["binding"].is_null(), "{}", String::from_utf8_lossy(&t.body));
    assert_eq!(stat(&sim, "connections"), 0, "init does not connect");

    // A good value binds and serves.
    let key = h.bind_with_key("ent", body("500")).await;
    assert_eq!(h.get(Some(&key), "/api/v1/tenants/ent/erp/products/A0000001").await.json()["id"], "A0000001");
}

/// `lifecycle.shutdown` (contract 1.1): when a rebind retires an actor, the
/// bridge logs out of the ERP session it holds (§2.6) instead of just
/// dropping the connection; the bind's trial instance, which never
/// connected, sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebind_logs_the_old_instance_out_of_the_erp() {
    let sim = sim(100, 10).await;
    let h = TestHost::start().await;
    let socket = sim.addr.to_string();
    let key = bind_bridge(&h, "ent", Some(&socket)).await;
    assert_eq!((stat(&sim, "connections"), stat(&sim, "logouts")), (0, 0), "binding connects nothing");
    assert_eq!(h.get(Some(&key), "/api/v1/tenants/ent/erp/products/A0000001").await.json()["id"], "A0000001");
    assert_eq!((stat(&sim, "logins"), stat(&sim, "logouts")), (1, 0));

    // Rebind with another batch size: the old actor (idle, its one
    // instance logged in) ends and says goodbye.
    let body = json!({
        "erp": { "plugin": "enventa-bridge", "version": "^1" },
        "config": { "enventaUser": "b2c", "syncBatchSize": 200 },
        "socket": socket,
    });
    assert_eq!(h.admin("PUT", "/admin/v1/tenants/ent", Some(body)).await.status, 200);
    wait_until("the retired instance's Logout", std::time::Duration::from_secs(10), || async {
        stat(&sim, "logouts") == 1
    })
    .await;
    // The new binding logs in afresh; nothing else logged out.
    assert_eq!(h.get(Some(&key), "/api/v1/tenants/ent/erp/products/A0000002").await.json()["id"], "A0000002");
    assert_eq!((stat(&sim, "logins"), stat(&sim, "logouts")), (2, 1));
    assert_eq!(violations(&sim), 0);
}
