//! The product routes end to end through HTTP and the WASM plugin.

use crate::util::*;
use serde_json::json;

#[tokio::test]
async fn demo_product_round_trips_and_errors_are_problem_json() {
    let h = TestHost::start().await;
    let r = h.get(Some(DEMO_KEY), "/api/v1/tenants/demo/erp/products/P00000001").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let p = r.json();
    assert_eq!(p["id"], "P00000001");
    assert_eq!(p["price"]["currency"], "EUR");
    assert!(p["modifiedAt"].as_str().unwrap().ends_with('Z'));

    let nf = h.get(Some(DEMO_KEY), "/api/v1/tenants/demo/erp/products/P99999999").await.problem(404);
    assert_eq!(nf["type"], "urn:b2connect:problem:not-found");
    assert!(nf["detail"].as_str().unwrap().contains("P99999999"));

    h.get(None, "/api/v1/tenants/demo/erp/products/P00000001").await.problem(401);
    h.get(Some("b2c_not_a_key_at_all_000000"), "/api/v1/tenants/demo/erp/products/P00000001").await.problem(401);
    // The admin token is not a tenant key.
    h.get(Some(ADMIN), "/api/v1/tenants/demo/erp/products/P00000001").await.problem(401);

    // Another tenant's path with a valid key: 404, as if it did not exist.
    let other = h.add_tenant("other", &[]).await;
    let p = h.get(Some(&other), "/api/v1/tenants/demo/erp/products/P00000001").await.problem(404);
    assert_eq!(p["detail"], "no such resource");
    let ghost = h.get(Some(&other), "/api/v1/tenants/ghost/erp/products/P00000001").await.problem(404);
    assert_eq!(ghost["detail"], p["detail"], "an unknown tenant looks the same as a foreign one");

    h.get(Some(DEMO_KEY), "/api/v1/nope").await.problem(404);
}

#[tokio::test]
async fn batch_get_keeps_order_and_reports_missing_items() {
    let h = TestHost::start().await;
    let ids: Vec<String> = (1..=100).map(|i| if i == 50 { "P00000000".into() } else { pid(101 - i) }).collect();
    let r = h.post_json(Some(DEMO_KEY), "/api/v1/tenants/demo/erp/products/batch-get", &json!({ "ids": ids })).await;
    assert_eq!(r.status, 200);
    let b = r.json();
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 100);
    for (item, id) in items.iter().zip(&ids) {
        assert_eq!(item["id"], id.as_str());
        if id == "P00000000" {
            assert_eq!(item["found"], false);
            assert!(item.get("item").is_none());
        } else {
            assert_eq!(item["item"]["id"], id.as_str());
        }
    }
    assert_eq!((b["found"].as_u64(), b["missing"].as_u64()), (Some(99), Some(1)));

    let too_many: Vec<String> = (1..=1001).map(pid).collect();
    let p = h
        .post_json(Some(DEMO_KEY), "/api/v1/tenants/demo/erp/products/batch-get", &json!({ "ids": too_many }))
        .await
        .problem(422);
    assert!(p["detail"].as_str().unwrap().contains("1000"));
    h.post_json(Some(DEMO_KEY), "/api/v1/tenants/demo/erp/products/batch-get", &json!({ "ids": "P1" }))
        .await
        .problem(422);
    h.post_json(Some(DEMO_KEY), "/api/v1/tenants/demo/erp/products/batch-get", &json!({ "ids": [], "x": 1 }))
        .await
        .problem(422);
    let raw = axum::http::Request::post("/api/v1/tenants/demo/erp/products/batch-get")
        .header("authorization", format!("Bearer {DEMO_KEY}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"ids\": ["))
        .unwrap();
    h.request(raw).await.problem(400);
    let wrong_type = axum::http::Request::post("/api/v1/tenants/demo/erp/products/batch-get")
        .header("authorization", format!("Bearer {DEMO_KEY}"))
        .body(axum::body::Body::from("{\"ids\": []}"))
        .unwrap();
    h.request(wrong_type).await.problem(415);
}

#[tokio::test]
async fn stream_of_a_million_products_arrives_complete_and_in_order() {
    let h = TestHost::start().await;
    let key = h.add_tenant("big", &[("productCount", "1000000")]).await;
    let r = h.get(Some(&key), "/api/v1/tenants/big/erp/products/stream?batchSize=5000").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type(), "application/x-ndjson");
    let mut expected = 1u64;
    for line in r.body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        // Check id order without parsing every full record.
        let id = &line[7..16];
        assert_eq!(id, pid(expected).as_bytes(), "line {expected}");
        expected += 1;
    }
    assert_eq!(expected - 1, 1_000_000);
    let last = r.body.rsplit(|b| *b == b'\n').find(|l| !l.is_empty()).unwrap();
    let last: serde_json::Value = serde_json::from_slice(last).unwrap();
    assert_eq!(last["id"], "P01000000");
}

#[tokio::test]
async fn stream_filters_and_rejects_bad_queries() {
    let h = TestHost::start().await;
    let key = h.add_tenant("acme", &[("productCount", "20000")]).await;
    let r = h.get(Some(&key), "/api/v1/tenants/acme/erp/products/stream?categoryId=CAT-01&activeOnly=true&modifiedSince=2025-12-01T00:00:00Z").await;
    assert_eq!(r.status, 200);
    let lines = ndjson_lines(&r.body);
    assert!(lines.len() > 50 && lines.len() < 1000, "{}", lines.len());
    for p in &lines {
        assert!(p["categoryId"].as_str().unwrap().starts_with("CAT-01-"));
        assert_eq!(p["active"], true);
        assert!(p["modifiedAt"].as_str().unwrap() >= "2025-12-01");
    }
    h.get(Some(&key), "/api/v1/tenants/acme/erp/products/stream?modifiedSince=yesterday").await.problem(422);
    h.get(Some(&key), "/api/v1/tenants/acme/erp/products/stream?batchSize=0").await.problem(422);
    h.get(Some(&key), "/api/v1/tenants/acme/erp/products/stream?batchSize=99999999999").await.problem(422);
    h.get(Some(&key), "/api/v1/tenants/acme/erp/products/stream?bogus=1").await.problem(422);
}
