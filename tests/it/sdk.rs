//! A provider written on the SDK (`plugins/readonly-erp`, 40 lines)
//! through the real host: it exports exactly the interface it named, its
//! two methods serve every ERP read route (batch from single gets), what it
//! left out is 501 naming the operation, and a bad setting is a 422 that
//! names the key.

use crate::util::*;
use serde_json::json;

#[tokio::test]
async fn a_provider_on_the_sdk_serves_what_it_implements_and_nothing_else() {
    let h = TestHost::start().await;
    h.publish("shop", "1.0.0", std::fs::read(b2c_host::bundled::READONLY_ERP_PATH).unwrap()).await;
    let v = h.admin("GET", "/admin/v1/plugins/shop/versions/1.0.0", None).await.json();
    assert_eq!(v["exports"], json!(["erp"]), "export_provider!(Shop: erp) exports erp-provider only");

    let key = h
        .bind_with_key(
            "shop-t",
            json!({ "erp": { "plugin": "shop", "version": "^1" }, "config": { "productCount": "5" } }),
        )
        .await;
    let base = "/api/v1/tenants/shop-t/erp";
    let p = h.get(Some(&key), &format!("{base}/products/P4")).await.json();
    assert_eq!(
        (p["id"].as_str(), p["sku"].as_str(), p["price"]["amountMinor"].as_i64()),
        (Some("P4"), Some("SKU-4"), Some(400))
    );
    let missing = h.get(Some(&key), &format!("{base}/products/P6")).await.problem(404);
    assert_eq!(missing["detail"], "no product P6");

    let batch = h
        .post_json(Some(&key), &format!("{base}/products/batch-get"), &json!({ "ids": ["P5", "nope", "P1"] }))
        .await
        .json();
    let ids: Vec<_> = batch["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["found"].as_bool().unwrap()))
        .collect();
    assert_eq!(ids, vec![("P5", true), ("nope", false), ("P1", true)]);
    assert_eq!((batch["found"].as_u64(), batch["missing"].as_u64()), (Some(2), Some(1)));

    let stream = h.get(Some(&key), &format!("{base}/products/stream")).await;
    let ids: Vec<_> = ndjson_lines(&stream.body).iter().map(|l| l["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["P1", "P2", "P3", "P4", "P5"]);

    let unsupported = h.get(Some(&key), &format!("{base}/customers/C1")).await.problem(501);
    assert_eq!(unsupported["detail"], "get-customer is not supported by this provider");

    // One rule for a bad setting: `invalid-input` naming the key. The SDK
    // answers `lifecycle.init` with `Provider::new`, so the bind itself is
    // refused (422 carrying it) and the tenant serves on unchanged.
    let r = h
        .admin(
            "PUT",
            "/admin/v1/tenants/shop-t",
            Some(json!({ "erp": { "plugin": "shop", "version": "^1" }, "config": { "productCount": "lots" } })),
        )
        .await;
    let detail = r.problem(422)["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("`productCount`") && detail.contains("\"lots\""), "{detail}");
    assert_eq!(h.get(Some(&key), &format!("{base}/products/P5")).await.json()["id"], "P5");
}
