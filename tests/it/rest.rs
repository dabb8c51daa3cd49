//! The full REST surface: every route with real mock-erp data, error
//! mappings, idempotency, isolation, streams, cache and metrics.

use crate::util::*;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

const T: &str = "/api/v1/tenants/acme";

async fn acme(h: &TestHost) -> String {
    h.add_tenant("acme", &[("productCount", "3000"), ("customerCount", "200")]).await
}

/// An active customer and an orderable product of tenant acme.
async fn orderable(h: &TestHost, k: &str) -> (String, String) {
    let ids: Vec<String> = (1..=50).map(pid).collect();
    let b = h.post_json(Some(k), &format!("{T}/erp/products/batch-get"), &json!({ "ids": ids })).await.json();
    let product = b["items"].as_array().unwrap().iter().find(|i| i["item"]["active"] == true).unwrap()["id"].clone();
    let ids: Vec<String> = (1..=50).map(|i| format!("CU{i:07}")).collect();
    let b = h.post_json(Some(k), &format!("{T}/erp/customers/batch-get"), &json!({ "ids": ids })).await.json();
    let customer = b["items"].as_array().unwrap().iter().find(|i| i["item"]["active"] == true).unwrap()["id"].clone();
    (customer.as_str().unwrap().to_string(), product.as_str().unwrap().to_string())
}

async fn post_raw(h: &TestHost, key: &str, path: &str, ctype: &str, body: impl Into<Body>) -> Resp {
    let req = Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", ctype)
        .body(body.into())
        .unwrap();
    h.request(req).await
}

#[tokio::test]
async fn every_route_answers_with_real_data() {
    let h = TestHost::start().await;
    let key = acme(&h).await;
    let k = Some(key.as_str());

    // ERP products
    let p = h.get(k, &format!("{T}/erp/products/P00000010")).await.json();
    assert_eq!(p["id"], "P00000010");
    let b = h
        .post_json(
            k,
            &format!("{T}/erp/products/batch-get"),
            &json!({ "ids": ["P00000003", "P00009999", "P00000001"] }),
        )
        .await
        .json();
    assert_eq!(
        b["items"].as_array().unwrap().iter().map(|i| i["found"].as_bool().unwrap()).collect::<Vec<_>>(),
        [true, false, true]
    );
    assert_eq!(b["items"][2]["item"]["id"], "P00000001");
    let s = h.get(k, &format!("{T}/erp/products/stream?nameContains=bolt")).await;
    let lines = ndjson_lines(&s.body);
    assert!(!lines.is_empty() && lines.iter().all(|l| l["name"].as_str().unwrap().to_lowercase().contains("bolt")));

    // ERP customers
    let c = h.get(k, &format!("{T}/erp/customers/CU0000009")).await.json();
    assert_eq!((c["id"].as_str(), c["number"].as_str()), (Some("CU0000009"), Some("100009")));
    assert!(c["address"]["postalCode"].is_string() && c["creditLimit"]["currency"] == "EUR");
    let cb = h
        .post_json(k, &format!("{T}/erp/customers/batch-get"), &json!({ "ids": ["CU0000200", "CU0000201"] }))
        .await
        .json();
    assert_eq!((cb["found"].as_u64(), cb["missing"].as_u64()), (Some(1), Some(1)));
    let cs = ndjson_lines(&h.get(k, &format!("{T}/erp/customers/stream?batchSize=7")).await.body);
    assert_eq!(cs.len(), 200);
    assert_eq!(cs[199]["id"], "CU0000200");

    // Orders: single, then batch with a failing item.
    let (customer, product) = orderable(&h, key.as_str()).await;
    let products = h
        .post_json(k, &format!("{T}/erp/products/batch-get"), &json!({ "ids": (1..=40).map(pid).collect::<Vec<_>>() }))
        .await
        .json();
    let orderable: Vec<&str> = products["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["item"]["active"] == true)
        .map(|i| i["id"].as_str().unwrap())
        .take(2)
        .collect();
    assert_eq!(orderable[0], product);
    let order = json!({ "customerId": customer, "lines": [{ "productId": orderable[0], "quantity": 2 }], "externalRef": "b2c-basket-77" });
    let r = h.post_json(k, &format!("{T}/erp/orders"), &order).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let o = r.json();
    assert_eq!(o["id"], "SO-00000001");
    assert_eq!(o["status"], "created");
    assert_eq!(o["lines"][0]["quantity"], 2);
    assert_eq!(
        o["total"]["amountMinor"].as_i64().unwrap(),
        o["lines"][0]["unitPrice"]["amountMinor"].as_i64().unwrap() * 2
    );
    let batch = json!([
        { "customerId": customer, "lines": [{ "productId": orderable[1], "quantity": 1 }] },
        { "customerId": "CU9999999", "lines": [{ "productId": orderable[1], "quantity": 1 }] },
    ]);
    let br = h.post_json(k, &format!("{T}/erp/orders/batch"), &batch).await.json();
    assert_eq!((br["succeeded"].as_u64(), br["failed"].as_u64()), (Some(1), Some(1)));
    assert_eq!(br["items"][0]["order"]["id"], "SO-00000002");
    assert_eq!(br["items"][1]["status"], 422);
    assert_eq!(br["items"][1]["error"]["type"], "urn:b2connect:problem:invalid-input");

    // Sync: JSON array, NDJSON, bulk.
    let mut p1 = h.get(k, &format!("{T}/erp/products/P00000001")).await.json();
    p1["name"] = json!("Renamed by sync");
    let mut new = p1.clone();
    new["id"] = json!("EXT-1");
    let r = h.post_json(k, &format!("{T}/erp/sync/products"), &json!([p1, new])).await.json();
    assert_eq!((r["received"].as_u64(), r["created"].as_u64(), r["updated"].as_u64()), (Some(2), Some(1), Some(1)));
    assert_eq!(h.get(k, &format!("{T}/erp/products/P00000001")).await.json()["name"], "Renamed by sync");
    let mut c2 = h.get(k, &format!("{T}/erp/customers/CU0000002")).await.json();
    c2["phone"] = json!("+49 30 1234567");
    let mut bad = c2.clone();
    bad["id"] = json!("EXT-C-BAD");
    bad["email"] = json!("not-an-email");
    let ndjson = format!("{}\n\n{}\n", c2, bad);
    let r = post_raw(&h, key.as_str(), &format!("{T}/erp/sync/customers"), "application/x-ndjson", ndjson).await.json();
    assert_eq!((r["updated"].as_u64(), r["failed"].as_u64()), (Some(1), Some(1)));
    assert_eq!(r["failures"][0]["index"], 1);
    assert_eq!(r["failures"][0]["error"]["status"], 422);
    let r =
        h.post_json(k, &format!("{T}/erp/sync/bulk"), &json!({ "products": [new], "customers": [c2] })).await.json();
    assert_eq!((r["products"]["unchanged"].as_u64(), r["customers"]["unchanged"].as_u64()), (Some(1), Some(1)));

    // CRM
    let ct = h.get(k, &format!("{T}/crm/contacts/CT00000005")).await.json();
    assert_eq!(ct["customerId"], "CU0000002");
    let cts =
        h.post_json(k, &format!("{T}/crm/contacts/batch-get"), &json!({ "ids": ["CT00000001", "nope"] })).await.json();
    assert_eq!(cts["items"][0]["item"]["id"], "CT00000001");
    let acts = h.get(k, &format!("{T}/crm/customers/{customer}/activities?limit=100")).await.json();
    let order_acts: Vec<&str> =
        acts.as_array().unwrap().iter().filter(|a| a["kind"] == "order").map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(order_acts, ["AC-SO-00000002", "AC-SO-00000001"], "orders show up as activities");
    let ab = h
        .post_json(
            k,
            &format!("{T}/crm/activities/batch-get"),
            &json!({ "customerIds": [customer, "CU0000999"], "limit": 1 }),
        )
        .await
        .json();
    assert_eq!(ab["items"][0]["item"].as_array().unwrap().len(), 1);
    assert_eq!(ab["items"][1]["found"], false);

    // PIM
    let d = h.get(k, &format!("{T}/pim/products/P00000002")).await.json();
    assert_eq!(d["product"]["id"], "P00000002");
    assert_eq!(d["categoryPath"].as_array().unwrap().len(), 2);
    let cats = h.get(k, &format!("{T}/pim/categories")).await.json();
    assert_eq!(cats.as_array().unwrap().len(), 30);
    let mut ids = Vec::new();
    let mut url = format!("{T}/pim/catalog?pageSize=1000");
    loop {
        let page = h.get(k, &url).await.json();
        ids.extend(page["items"].as_array().unwrap().iter().map(|d| d["product"]["id"].as_str().unwrap().to_string()));
        match page["continuation"].as_str() {
            Some(c) => url = format!("{T}/pim/catalog?pageSize=1000&continuation={c}"),
            None => break,
        }
    }
    // 3000 generated + EXT-1 from the sync, in catalog order.
    assert_eq!(ids.len(), 3001);
    assert_eq!(ids[0], "P00000001");
    assert_eq!(ids[3000], "EXT-1");
    let cs = ndjson_lines(&h.get(k, &format!("{T}/pim/catalog/stream?categoryId=CAT-05")).await.body);
    assert!(!cs.is_empty() && cs.iter().all(|d| d["product"]["categoryId"].as_str().unwrap().starts_with("CAT-05-")));
}

#[tokio::test]
async fn plugin_errors_map_to_statuses() {
    let h = TestHost::start_with(|a| {
        // Room for the first call's instance start on a loaded machine;
        // FAULT-SPIN waits it out.
        a.call_timeout_ms = 1000;
        a.cpu_budget_ms = 60_000;
    })
    .await;
    let k = h.add_tenant("acme", &[("faultInjection", "on")]).await;
    let cases = [
        ("FAULT-NOT-FOUND", 404, "not-found"),
        ("FAULT-INVALID-INPUT", 422, "invalid-input"),
        ("FAULT-CONFLICT", 409, "conflict"),
        ("FAULT-UNAVAILABLE", 503, "provider-unavailable"),
        ("FAULT-TIMEOUT", 504, "provider-timeout"),
        ("FAULT-UNSUPPORTED", 501, "unsupported"),
        ("FAULT-INTERNAL", 502, "provider-error"),
        ("FAULT-SPIN", 504, "plugin-timeout"),
    ];
    for (id, status, slug) in cases {
        let r = h.get(Some(&k), &format!("{T}/erp/products/{id}")).await;
        let p = r.problem(status);
        assert_eq!(p["type"], format!("urn:b2connect:problem:{slug}"), "{id}");
        if status == 503 {
            assert_eq!(r.headers["retry-after"], "1");
        }
    }
    // After the deadline killed the spinning call, the tenant still works.
    assert_eq!(h.get(Some(&k), &format!("{T}/erp/products/P00000001")).await.status, 200);
    // The operator sees the newest provider-side failure (the spin; the
    // caller's 404/422/409/501 are answers, not failures) and the figures:
    // 9 requests, 5 of them 5xx (503, 504, 501, 502, 504).
    let t = h.admin("GET", "/admin/v1/tenants/acme", None).await.json();
    let live = &t["providers"][0];
    assert!(live["lastError"].as_str().unwrap().contains("did not answer within"), "{live}");
    assert!(live["lastErrorAt"].as_str().unwrap().ends_with('Z'), "{live}");
    assert_eq!((live["restarts"].as_u64(), live["breaker"].as_str()), (Some(1), Some("closed")), "{live}");
    let stats = h.admin("GET", "/admin/v1/stats", None).await.json();
    let acme = stats["tenants"].as_array().unwrap().iter().find(|t| t["tenant"] == "acme").unwrap();
    assert_eq!((acme["requests"].as_u64(), acme["errors"].as_u64()), (Some(9), Some(5)), "{acme}");
    assert!((acme["errorRate"].as_f64().unwrap() - 5.0 / 9.0).abs() < 1e-9, "{acme}");
    assert!(acme["p99Ms"].as_f64().unwrap() >= 1000.0, "the 1 s timeout is in the window: {acme}");

    // A kind that is not bound: 404 naming the missing binding.
    let erp_only = h.state.registry.bind(
        "erponly",
        &b2c_registry::BindingRequest {
            erp: Some(b2c_registry::KindRequest { plugin: "mock-erp".into(), version: "^1".into() }),
            ..Default::default()
        },
        &b2c_host::runtime::host_contract(),
        "test",
    );
    h.state.runtime.activate(&erp_only.unwrap()).await.unwrap();
    h.state.registry.add_api_key("erponly", "b2c_test_erponly_key_123456", "t", "t").unwrap();
    h.state.auth.reload(&h.state.registry).unwrap();
    let p = h
        .get(Some("b2c_test_erponly_key_123456"), "/api/v1/tenants/erponly/crm/contacts/CT00000001")
        .await
        .problem(404);
    assert_eq!(p["type"], "urn:b2connect:problem:binding-missing");
    assert!(p["detail"].as_str().unwrap().contains("crm"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_at_once() {
    let h = std::sync::Arc::new(
        TestHost::start_with(|a| {
            a.queue_capacity = 1;
            // Long enough that the spinning call still holds the actor
            // while the five requests below are sent and refused.
            a.call_timeout_ms = 3000;
            a.cpu_budget_ms = 60_000;
        })
        .await,
    );
    let k = h.add_tenant("acme", &[("faultInjection", "on")]).await;
    let spin = {
        let (h, k) = (h.clone(), k.clone());
        tokio::spawn(async move { h.get(Some(&k), &format!("{T}/erp/products/FAULT-SPIN")).await.status })
    };
    // The spinning call is inside the plugin (not in the queue) once the
    // actor counts it in-call: then the queue is empty and holds one more.
    let stats = h.provider("acme", b2c_host::ProviderKind::Erp).handle.stats().clone();
    wait_until("the spinning call to enter the plugin", std::time::Duration::from_secs(30), || {
        let stats = stats.clone();
        async move { stats.in_call.load(std::sync::atomic::Ordering::SeqCst) == 1 }
    })
    .await;
    let mut overloaded = 0;
    let mut queued = Vec::new();
    for i in 0..5 {
        let (h, k) = (h.clone(), k.clone());
        queued.push(tokio::spawn(async move { h.get(Some(&k), &format!("{T}/erp/products/{}", pid(i + 1))).await }));
    }
    for q in queued {
        let r = q.await.unwrap();
        if r.status == 503 {
            assert_eq!(r.problem(503)["type"], "urn:b2connect:problem:overloaded");
            assert_eq!(r.headers["retry-after"], "1");
            overloaded += 1;
        } else {
            assert_eq!(r.status, 200);
        }
    }
    assert_eq!(spin.await.unwrap(), 504);
    assert_eq!(overloaded, 4, "one call fits the queue, four are refused at once");
}

#[tokio::test]
async fn create_order_honours_idempotency_keys_across_restarts() {
    let h = TestHost::start().await;
    let k = acme(&h).await;
    let (customer, product) = orderable(&h, &k).await;
    let body = json!({ "customerId": customer, "lines": [{ "productId": product, "quantity": 1 }] });
    let post = |key: Option<&'static str>, body: Value| {
        let mut b = Request::post(format!("{T}/erp/orders"))
            .header("authorization", format!("Bearer {k}"))
            .header("content-type", "application/json");
        if let Some(key) = key {
            b = b.header("idempotency-key", key);
        }
        b.body(Body::from(body.to_string())).unwrap()
    };
    let first = h.request(post(Some("order-abc"), body.clone())).await;
    assert_eq!(first.status, 201, "{}", String::from_utf8_lossy(&first.body));
    let again = h.request(post(Some("order-abc"), body.clone())).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.json(), first.json(), "the same order, not a second one");
    let mut other = body.clone();
    other["lines"][0]["quantity"] = json!(5);
    let p = h.request(post(Some("order-abc"), other)).await.problem(409);
    assert!(p["detail"].as_str().unwrap().contains("order-abc"));
    // Without a key every request is a new order.
    let a = h.request(post(None, body.clone())).await.json();
    assert_eq!(a["id"], "SO-00000002");
    // A failed call is not remembered: the key can be used after fixing it.
    let broken = json!({ "customerId": "CU9999999", "lines": [{ "productId": product, "quantity": 1 }] });
    h.request(post(Some("order-def"), broken)).await.problem(422);
    let fixed = h
        .request(post(
            Some("order-def"),
            json!({ "customerId": customer, "lines": [{ "productId": product, "quantity": 2 }] }),
        ))
        .await;
    assert_eq!(fixed.status, 201);
    h.request(post(None, json!({ "customerId": customer, "lines": [] }))).await.problem(422);

    // The key is durable: after a restart the same request replays.
    let h2 = h.restart().await;
    let replay = h2.request(post(Some("order-abc"), body)).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.json()["id"], "SO-00000001");
}

/// Idempotency keys are kept 24 hours (`RETENTION_MS` in the registry).
/// The host has no clock seam, so the test ages the stored record instead:
/// it moves the record's `created_at` back in the SQLite file. A record one
/// minute short of 24 h still replays; one a second over is forgotten, and
/// the same request runs again (and reaches the plugin).
#[tokio::test]
async fn idempotency_keys_are_kept_twenty_four_hours() {
    let h = TestHost::start().await;
    let k = acme(&h).await;
    let (customer, product) = orderable(&h, &k).await;
    let body = json!({ "customerId": customer, "lines": [{ "productId": product, "quantity": 1 }] });
    let post = || {
        Request::post(format!("{T}/erp/orders"))
            .header("authorization", format!("Bearer {k}"))
            .header("content-type", "application/json")
            .header("idempotency-key", "day-key")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let first = h.request(post()).await;
    assert_eq!(first.status, 201, "{}", String::from_utf8_lossy(&first.body));
    assert_eq!(first.json()["id"], "SO-00000001");
    let db = rusqlite::Connection::open(h.dir.path().join("registry.sqlite3")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let age = |ms: i64| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let n = db.execute("UPDATE idempotency SET created_at = ?1 WHERE key = 'day-key'", [now - ms]).unwrap();
        assert_eq!(n, 1, "exactly the one record");
    };
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    age(DAY_MS - 60_000);
    let replay = h.request(post()).await;
    assert_eq!((replay.status.as_u16(), replay.json()["id"].as_str()), (201, Some("SO-00000001")));
    assert_eq!(replay.headers["idempotent-replayed"], "true", "23 h 59 min old: replayed");
    age(DAY_MS + 1_000);
    // Forgotten: the host runs the request again. The key also travels to
    // the ERP as the order's external reference, and mock-erp refuses a
    // second order with the same reference: the plugin's own 409 naming the
    // first order (not the host's Idempotency-Key conflict) shows the call
    // reached it.
    let fresh = h.request(post()).await;
    let p = fresh.problem(409);
    assert!(fresh.headers.get("idempotent-replayed").is_none());
    assert_eq!(p["detail"], "external reference day-key already used by order SO-00000001", "{p}");
    // That failed run was not remembered either: the next one reaches the
    // plugin again.
    let p = h.request(post()).await.problem(409);
    assert!(p["detail"].as_str().unwrap().contains("already used by order SO-00000001"), "{p}");
}

/// Cache TTLs (`--cache-master-ttl-secs`, `--cache-transactional-ttl-secs`):
/// an answer is served from the cache within its TTL and fetched from the
/// plugin again after it. Waiting out a TTL is the point of this test, so
/// it sleeps past the (2 s) TTL; hits and misses are read from /metrics.
#[tokio::test]
async fn cached_answers_expire_after_their_ttl() {
    let h = TestHost::start_with(|a| {
        // Both classes: master data (a product) and activities.
        a.cache_master_ttl_secs = 2;
        a.cache_transactional_ttl_secs = 2;
    })
    .await;
    let k = acme(&h).await;
    let counts = || async {
        (
            h.metric("erp_provider_cache_hits{tenant=\"acme\"}").await,
            h.metric("erp_provider_cache_misses{tenant=\"acme\"}").await,
        )
    };
    // Per-tenant cache counters appear at the tenant's first cached read;
    // before it, absent means 0 (read strictly with `metric` below).
    let (mut hits0, mut misses0) = (
        h.metric_or_zero("erp_provider_cache_hits{tenant=\"acme\"}").await,
        h.metric_or_zero("erp_provider_cache_misses{tenant=\"acme\"}").await,
    );
    assert_eq!((hits0, misses0), (0.0, 0.0));
    for path in [format!("{T}/erp/products/P00000007"), format!("{T}/crm/customers/CU0000007/activities")] {
        let first = h.get(Some(&k), &path).await;
        assert_eq!(first.status, 200, "{path}");
        let t = std::time::Instant::now();
        let second = h.get(Some(&k), &path).await;
        eprintln!("{path}: second read {:?} after the first (TTL 2 s)", t.elapsed());
        assert_eq!(second.body, first.body);
        assert_eq!(counts().await, (hits0 + 1.0, misses0 + 1.0), "{path}: a miss, then a hit within the TTL");
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let third = h.get(Some(&k), &path).await;
        assert_eq!(third.body, first.body);
        assert_eq!(counts().await, (hits0 + 1.0, misses0 + 2.0), "{path}: a miss again after the TTL");
        (hits0, misses0) = counts().await;
    }
    // With the default TTLs (300 s and 30 s) the same read stays cached.
    let h = TestHost::start().await;
    let k = acme(&h).await;
    let path = format!("{T}/erp/products/P00000007");
    h.get(Some(&k), &path).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    h.get(Some(&k), &path).await;
    assert_eq!(h.metric("erp_provider_cache_hits{tenant=\"acme\"}").await, 1.0, "still cached after 2.1 s");
}

/// Every tenant route, with a path valid for tenant `acme`.
fn tenant_routes() -> Vec<(&'static str, String, Option<Value>)> {
    routes_ordering("CU0000001", "P00000001")
}

/// Every tenant route; orders use `customer` and `product`.
fn routes_ordering(customer: &str, product: &str) -> Vec<(&'static str, String, Option<Value>)> {
    let order = json!({ "customerId": customer, "lines": [{ "productId": product, "quantity": 1 }] });
    vec![
        ("GET", format!("{T}/erp/products/P00000001"), None),
        ("POST", format!("{T}/erp/products/batch-get"), Some(json!({ "ids": ["P00000001"] }))),
        ("GET", format!("{T}/erp/products/stream"), None),
        ("GET", format!("{T}/erp/customers/CU0000001"), None),
        ("POST", format!("{T}/erp/customers/batch-get"), Some(json!({ "ids": ["CU0000001"] }))),
        ("GET", format!("{T}/erp/customers/stream"), None),
        ("POST", format!("{T}/erp/orders"), Some(order.clone())),
        ("POST", format!("{T}/erp/orders/batch"), Some(json!([order]))),
        ("POST", format!("{T}/erp/sync/products"), Some(json!([]))),
        ("POST", format!("{T}/erp/sync/customers"), Some(json!([]))),
        ("POST", format!("{T}/erp/sync/bulk"), Some(json!({ "products": [], "customers": [] }))),
        ("GET", format!("{T}/crm/contacts/CT00000001"), None),
        ("POST", format!("{T}/crm/contacts/batch-get"), Some(json!({ "ids": ["CT00000001"] }))),
        ("GET", format!("{T}/crm/customers/CU0000001/activities"), None),
        ("POST", format!("{T}/crm/activities/batch-get"), Some(json!({ "customerIds": ["CU0000001"] }))),
        ("GET", format!("{T}/pim/products/P00000001"), None),
        ("GET", format!("{T}/pim/categories"), None),
        ("GET", format!("{T}/pim/catalog"), None),
        ("GET", format!("{T}/pim/catalog/stream?categoryId=CAT-01-01"), None),
    ]
}

#[tokio::test]
async fn isolation_matrix_over_every_route() {
    let h = TestHost::start().await;
    let own = acme(&h).await;
    let other = h.add_tenant("globex", &[]).await;
    let revoked = h.state.registry.add_api_key("acme", "b2c_test_acme_revoked_000000", "t", "t").unwrap();
    h.state.registry.revoke_api_key("acme", &revoked.id, "t").unwrap();
    h.state.auth.reload(&h.state.registry).unwrap();
    let (customer, product) = orderable(&h, &own).await;
    let routes = routes_ordering(&customer, &product);
    assert_eq!(routes.len(), 19);
    for (method, path, body) in &routes {
        let ok = h.call(method, path, body, Some(&own)).await;
        assert!(
            ok.status.is_success(),
            "{method} {path} with its own key: {} {}",
            ok.status,
            String::from_utf8_lossy(&ok.body)
        );
        let p = h.call(method, path, body, Some(&other)).await.problem(404);
        assert_eq!(p["detail"], "no such resource", "{method} {path}");
        h.call(method, path, body, Some("b2c_test_acme_revoked_000000")).await.problem(401);
        h.call(method, path, body, None).await.problem(401);
        h.call(method, path, body, Some(ADMIN)).await.problem(401);
    }
}

#[tokio::test]
async fn stream_stops_pulling_when_the_client_goes_away() {
    let h = TestHost::start().await;
    let k = h.add_tenant("huge", &[("productCount", "10000000")]).await;
    let req = Request::get("/api/v1/tenants/huge/erp/products/stream?batchSize=100")
        .header("authorization", format!("Bearer {k}"))
        .body(Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(h.app.clone(), req).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.into_body();
    use http_body_util::BodyExt;
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(first.starts_with(b"{\"id\":\"P00000001\""));
    let stats = h.provider("huge", b2c_host::ProviderKind::Erp).handle.stats().clone();
    assert_eq!(stats.open_cursors.load(std::sync::atomic::Ordering::SeqCst), 1);
    drop(body);
    // The cursor is closed in the plugin and no further batches are pulled.
    let mut closed = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if stats.open_cursors.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            closed = true;
            break;
        }
    }
    assert!(closed, "the cursor was closed after the client went away");
    let calls = stats.calls.load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(stats.calls.load(std::sync::atomic::Ordering::SeqCst), calls, "no pulls after the disconnect");
    assert!(calls < 10, "only a few batches of 10 000 000 were pulled ({calls} calls)");
}

#[tokio::test]
async fn a_stream_that_fails_midway_ends_with_an_error_line() {
    let h = TestHost::start().await;
    let k = h.add_tenant("flaky", &[("streamFailAfter", "2500")]).await;
    for path in ["erp/products/stream?batchSize=1000", "pim/catalog/stream?batchSize=1000"] {
        let r = h.get(Some(&k), &format!("/api/v1/tenants/flaky/{path}")).await;
        assert_eq!(r.status, 200);
        let lines = ndjson_lines(&r.body);
        // A first pull of 100, three of 1000 (the plugin fails once it has
        // handed out 2500 or more), then the error line.
        assert_eq!(lines.len(), 3101, "{path}: 3100 records, then the error line");
        let last = &lines[3100]["error"];
        assert_eq!(last["type"], "urn:b2connect:problem:provider-error");
        assert_eq!(last["status"], 502);
        assert!(last["detail"].as_str().unwrap().contains("2500"));
    }
}

#[tokio::test]
async fn cache_hits_misses_and_invalidation_show_in_metrics() {
    let h = TestHost::start().await;
    let key = acme(&h).await;
    let k = Some(key.as_str());
    let path = format!("{T}/erp/products/P00000005");
    let first = h.get(k, &path).await;
    assert!(first.headers.contains_key("x-request-id"));
    let second = h.get(k, &path).await;
    assert_eq!(first.json(), second.json());
    assert_eq!(h.metric("erp_provider_cache_hits{tenant=\"acme\"}").await, 1.0);
    assert_eq!(h.metric("erp_provider_cache_misses{tenant=\"acme\"}").await, 1.0);
    assert_eq!(h.metric("erp_provider_cache_hit_ratio{tenant=\"acme\"}").await, 0.5);
    // Another tenant's cache is separate: its first read is a miss.
    let demo = h.get(Some(DEMO_KEY), "/api/v1/tenants/demo/erp/products/P00000005").await.json();
    assert_ne!(demo, first.json());
    assert_eq!(h.metric("erp_provider_cache_misses{tenant=\"demo\"}").await, 1.0);

    // A sync through the host invalidates: the next read is a miss and fresh.
    let mut p = first.json();
    p["stock"] = json!(123456);
    h.post_json(k, &format!("{T}/erp/sync/products"), &json!([p])).await;
    assert_eq!(h.get(k, &path).await.json()["stock"], 123456);
    assert_eq!(h.metric("erp_provider_cache_misses{tenant=\"acme\"}").await, 2.0);
    assert_eq!(h.get(k, &path).await.json()["stock"], 123456);
    assert_eq!(h.metric("erp_provider_cache_hits{tenant=\"acme\"}").await, 2.0);
    // The admin route drops the tenant's cache.
    let r = h.admin("POST", "/admin/v1/tenants/acme/cache/invalidate", None).await;
    assert_eq!(r.json()["invalidated"], true);
    h.get(k, &path).await;
    assert_eq!(h.metric("erp_provider_cache_misses{tenant=\"acme\"}").await, 3.0);

    // Batch-get answers cached ids from the cache and the rest from the plugin.
    h.post_json(k, &format!("{T}/erp/products/batch-get"), &json!({ "ids": ["P00000005", "P00000006"] })).await;
    assert_eq!(h.metric("erp_provider_cache_hits{tenant=\"acme\"}").await, 3.0);
    assert_eq!(h.metric("erp_provider_cache_misses{tenant=\"acme\"}").await, 4.0);

    // Request metrics and actor gauges.
    assert_eq!(
        h.metric("erp_provider_requests_total{operation=\"GetProduct\",tenant=\"acme\",status=\"200\"}").await,
        5.0
    );
    h.get(k, &format!("{T}/erp/products/nope")).await;
    assert_eq!(
        h.metric("erp_provider_requests_total{operation=\"GetProduct\",tenant=\"acme\",status=\"404\"}").await,
        1.0
    );
    assert!(h.metric("erp_provider_request_duration_seconds_count{operation=\"GetProduct\"}").await >= 6.0);
    let text = String::from_utf8_lossy(&h.get(None, "/metrics").await.body).to_string();
    assert!(
        text.contains("erp_provider_queue_depth{tenant=\"acme\",kinds=\"erp+crm+pim\",plugin=\"mock-erp@1.0.0\"} 0"),
        "{text}"
    );
    assert!(text.contains("erp_provider_plugin_restarts 0"));
    // A caller-supplied request id is echoed.
    let req = Request::get(&path)
        .header("authorization", format!("Bearer {}", key.as_str()))
        .header("x-request-id", "b2c-trace-42")
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.request(req).await.headers["x-request-id"], "b2c-trace-42");
}

#[tokio::test]
async fn health_readiness_and_openapi() {
    let h = TestHost::start().await;
    assert_eq!(h.get(None, "/healthz").await.json()["status"], "ok");
    let r = h.get(None, "/readyz").await.json();
    assert_eq!(r["status"], "ready");
    assert_eq!(r["providers"][0]["tenant"], "demo");
    assert_eq!(r["providers"][0]["kinds"], json!(["erp", "crm", "pim"]));
    let doc = h.get(None, "/openapi.json").await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    // Every route of the router is documented, with its method.
    let mut expected: Vec<(String, String)> = tenant_routes()
        .into_iter()
        .map(|(m, p, _)| {
            let p = p.split('?').next().unwrap().replace("/acme/", "/{tenant}/");
            let p = p.replace("P00000001", "{id}").replace("CU0000001", "{id}").replace("CT00000001", "{id}");
            (m.to_lowercase(), p)
        })
        .collect();
    for (m, p) in [
        ("get", "/admin/v1/plugins"),
        ("get", "/admin/v1/plugins/{name}"),
        ("put", "/admin/v1/plugins/{name}/versions/{version}"),
        ("get", "/admin/v1/plugins/{name}/versions/{version}"),
        ("get", "/admin/v1/plugins/{name}/versions/{version}/artifact"),
        ("post", "/admin/v1/plugins/{name}/versions/{version}/yank"),
        ("post", "/admin/v1/plugins/{name}/versions/{version}/unyank"),
        ("get", "/admin/v1/tenants"),
        ("put", "/admin/v1/tenants/{tenant}"),
        ("get", "/admin/v1/tenants/{tenant}"),
        ("post", "/admin/v1/tenants/{tenant}/rollback"),
        ("post", "/admin/v1/tenants/{tenant}/api-keys"),
        ("get", "/admin/v1/tenants/{tenant}/api-keys"),
        ("delete", "/admin/v1/tenants/{tenant}/api-keys/{key_id}"),
        ("post", "/admin/v1/tenants/{tenant}/cache/invalidate"),
        ("post", "/admin/v1/tenants/{tenant}/sync/reset"),
        ("get", "/admin/v1/audit"),
        ("get", "/admin/v1/stats"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
        ("get", "/api/v1/contract"),
    ] {
        expected.push((m.to_string(), p.to_string()));
    }
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    expected.sort();
    documented.sort();
    assert_eq!(documented, expected);
    // Every route documents the problem answers of its class, as
    // problem+json; a route with a body also its body's 400/413/415.
    for (m, p) in &expected {
        let op = &doc["paths"][p][m];
        let tenant_route = p.starts_with("/api/v1/tenants/");
        let mut statuses: Vec<&str> = match tenant_route {
            true => vec!["400", "401", "404", "422", "429", "502", "503", "504"],
            false if p.starts_with("/admin/") => vec!["400", "401", "403", "422"],
            false => vec![],
        };
        if m == "post" && tenant_route || m == "put" {
            statuses.extend(["413", "415"]);
        }
        for status in statuses {
            let media = op["responses"][status]["content"].as_object().map(|c| c.keys().cloned().collect::<Vec<_>>());
            assert_eq!(media, Some(vec!["application/problem+json".to_string()]), "{m} {p} documents {status}");
        }
    }
    // The metrics' operation names are the declarations' operation ids.
    assert_eq!(doc["paths"]["/api/v1/tenants/{tenant}/erp/products/{id}"]["get"]["operationId"], "GetProduct");
    let ids: Vec<&str> = expected
        .iter()
        .filter(|(_, p)| p.starts_with("/api/v1/tenants/"))
        .map(|(m, p)| doc["paths"][p][m]["operationId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 19);
    assert!(ids.iter().all(|id| id.chars().next().is_some_and(|c| c.is_ascii_uppercase())), "{ids:?}");

    // The provider contract, public, one WIT package at the host's version.
    let c = h.get(None, "/api/v1/contract").await;
    assert_eq!(c.status, 200);
    assert_eq!(c.content_type(), "text/plain; charset=utf-8");
    assert_eq!(c.headers["x-contract-version"], b2c_host::bindings::CONTRACT_VERSION);
    let text = String::from_utf8(c.body.to_vec()).unwrap();
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("contract.wit", &text).expect("the served contract parses as WIT");
    assert_eq!(
        resolve.packages[pkg].name.to_string(),
        format!("b2connect:provider@{}", b2c_host::bindings::CONTRACT_VERSION)
    );
    let mut worlds: Vec<_> = resolve.packages[pkg].worlds.keys().cloned().collect();
    worlds.sort();
    assert_eq!(
        worlds,
        [
            "crm-pim-plugin",
            "crm-plugin",
            "erp-crm-plugin",
            "erp-pim-plugin",
            "erp-plugin",
            "full-provider",
            "host-imports",
            "pim-plugin"
        ]
    );
}

/// A tiny deterministic generator, so the fuzz run is reproducible.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() as usize) % xs.len()]
    }
}

#[tokio::test]
async fn malformed_requests_never_cause_5xx() {
    let h = TestHost::start().await;
    let k = acme(&h).await;
    let ids = [
        "",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "..%2F..%2Fregistry.sqlite3",
        "%00",
        "%F0%9F%92%A3",
        "%E2%80%AE",
        "P%0A1",
        "a%20b",
        "%FF%FE",
        "P00000001%3Bdrop",
        "'or'1'='1",
        "%25",
        "x".repeat(300).leak(),
        "-1",
        "99999999999999999999",
    ];
    let queries = [
        "batchSize=-1",
        "batchSize=1e9",
        "batchSize=",
        "modifiedSince=%FF",
        "modifiedSince=9999999999999999999999",
        "activeOnly=maybe",
        "pageSize=0",
        "pageSize=4294967296",
        "limit=0",
        "limit=abc",
        "continuation=",
        "continuation=g.0",
        "continuation=x.zz",
        "categoryId=%00",
        "search=%F0%9F%92%A3",
        "nameContains=",
        "country=%E2%80%AE",
        "a=b",
    ];
    let bodies = [
        "",
        "null",
        "[]",
        "{}",
        "{\"ids\":null}",
        "{\"ids\":[1,2]}",
        "{\"ids\":\"P1\"}",
        "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
        "{\"ids\":[\"\"]}",
        "{\"customerId\":\"CU0000001\",\"lines\":[{\"productId\":\"P00000001\",\"quantity\":-1}]}",
        "{\"customerId\":1}",
        "[{\"id\":\"x\"}]",
        "{\"products\":{},\"customers\":[]}",
        "\u{feff}{}",
        "{\"customerIds\":[],\"limit\":0}",
        "{\"ids\":[\"P00000001\"],\"extra\":true}",
        "not json at all",
        "{\"a\":",
    ];
    let ctypes = ["application/json", "text/plain", "application/x-ndjson", "application/json; charset=utf-8", ""];
    let mut rng = Lcg(0x5eed);
    let routes = tenant_routes();
    let mut sent = 0;
    for _ in 0..600 {
        let (method, path, _) = &routes[(rng.next() as usize) % routes.len()];
        let mut path = path.clone();
        if path.contains("P00000001") || path.contains("CU0000001") || path.contains("CT00000001") {
            let id = rng.pick(&ids);
            path = path.replace("P00000001", id).replace("CU0000001", id).replace("CT00000001", id);
        }
        if rng.next().is_multiple_of(2) {
            path = format!("{}{}{}", path, if path.contains('?') { "&" } else { "?" }, rng.pick(&queries));
        }
        let mut b = Request::builder().method(*method).uri(&path).header("authorization", format!("Bearer {k}"));
        let ct = rng.pick(&ctypes);
        if !ct.is_empty() {
            b = b.header("content-type", ct);
        }
        let body = if *method == "POST" {
            if rng.next().is_multiple_of(50) {
                vec![b'['; 17 * 1024 * 1024]
            } else {
                rng.pick(&bodies).as_bytes().to_vec()
            }
        } else {
            Vec::new()
        };
        let Ok(req) = b.body(Body::from(body)) else { continue };
        let r = h.request(req).await;
        assert!(!r.status.is_server_error(), "{method} {path} -> {} {}", r.status, String::from_utf8_lossy(&r.body));
        if !r.status.is_success() {
            assert_eq!(r.content_type(), "application/problem+json", "{method} {path}");
        }
        sent += 1;
    }
    assert!(sent >= 550, "{sent}");
    // The host still serves normally afterwards.
    assert_eq!(h.get(Some(&k), &format!("{T}/erp/products/P00000001")).await.status, 200);
}

#[tokio::test]
async fn catalog_continuation_survives_a_host_restart() {
    let h = TestHost::start().await;
    let k = acme(&h).await;
    let first = h.get(Some(&k), &format!("{T}/pim/catalog?pageSize=250&categoryId=CAT-02")).await.json();
    let token = first["continuation"].as_str().expect("more pages").to_string();
    let second =
        h.get(Some(&k), &format!("{T}/pim/catalog?pageSize=250&categoryId=CAT-02&continuation={token}")).await.json();

    let h2 = h.restart().await;
    let again = h2.get(Some(&k), &format!("{T}/pim/catalog?pageSize=250&categoryId=CAT-02&continuation={token}")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["items"], second["items"]);
    assert_ne!(second["items"][0], first["items"][0]);
    h2.get(Some(&k), &format!("{T}/pim/catalog?continuation=g.notanumber")).await.problem(422);
}
