//! The isolation probe matrix: every tenant route × {own key, each other
//! tenant's key, a revoked key, no key, the admin token} × ids taken from
//! every tenant's data (including records only one tenant synced). Counts
//! are asserted: 0 cross-tenant 2xx, and no answer anywhere carries another
//! tenant's private record, whether through the cache or the instance.

use crate::util::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const TENANTS: [&str; 3] = ["north", "south", "east"];

/// A product only `tenant` has: synced into its instance, never elsewhere.
fn secret(tenant: &str, n: u32) -> Value {
    json!({
        "id": format!("SECRET-{tenant}-{n}"), "sku": format!("S-{tenant}-{n}"),
        "name": format!("secret of {tenant} #{n}"), "description": "private", "categoryId": "CAT-01-01",
        "price": { "amountMinor": 100 + n, "currency": "EUR" }, "stock": 1, "unit": "pcs", "active": true,
        "modifiedAt": "2026-01-01T00:00:00Z",
    })
}

fn routes(t: &str, id: &str) -> Vec<(&'static str, String, Option<Value>)> {
    let p = format!("/api/v1/tenants/{t}");
    let order = json!({ "customerId": "CU0000001", "lines": [{ "productId": id, "quantity": 1 }] });
    vec![
        ("GET", format!("{p}/erp/products/{id}"), None),
        ("POST", format!("{p}/erp/products/batch-get"), Some(json!({ "ids": [id, "P00000001"] }))),
        ("GET", format!("{p}/erp/products/stream?nameContains=secret"), None),
        ("GET", format!("{p}/erp/customers/CU0000001"), None),
        ("POST", format!("{p}/erp/customers/batch-get"), Some(json!({ "ids": ["CU0000001", id] }))),
        ("GET", format!("{p}/erp/customers/stream"), None),
        ("POST", format!("{p}/erp/orders"), Some(order.clone())),
        ("POST", format!("{p}/erp/orders/batch"), Some(json!([order]))),
        ("POST", format!("{p}/erp/sync/products"), Some(json!([]))),
        ("POST", format!("{p}/erp/sync/customers"), Some(json!([]))),
        ("POST", format!("{p}/erp/sync/bulk"), Some(json!({ "products": [], "customers": [] }))),
        ("GET", format!("{p}/crm/contacts/CT00000001"), None),
        ("POST", format!("{p}/crm/contacts/batch-get"), Some(json!({ "ids": ["CT00000001"] }))),
        ("GET", format!("{p}/crm/customers/CU0000001/activities"), None),
        ("POST", format!("{p}/crm/activities/batch-get"), Some(json!({ "customerIds": ["CU0000001"] }))),
        ("GET", format!("{p}/pim/products/{id}"), None),
        ("GET", format!("{p}/pim/categories"), None),
        ("GET", format!("{p}/pim/catalog"), None),
        ("GET", format!("{p}/pim/catalog/stream?categoryId=CAT-01-01"), None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_probes_find_no_way_across_tenants() {
    let h = TestHost::start().await;
    let mut keys = BTreeMap::new();
    for t in TENANTS {
        let k = h.add_tenant(t, &[("productCount", "300"), ("customerCount", "20")]).await;
        let secrets: Vec<Value> = (1..=3).map(|n| secret(t, n)).collect();
        let r = h.post_json(Some(&k), &format!("/api/v1/tenants/{t}/erp/sync/products"), &json!(secrets)).await;
        assert_eq!(r.json()["created"], 3, "{t}: {}", String::from_utf8_lossy(&r.body));
        keys.insert(t, k);
    }
    let revoked = h.state.registry.add_api_key("north", "b2c_test_north_revoked_00000", "t", "t").unwrap();
    h.state.registry.revoke_api_key("north", &revoked.id, "t").unwrap();
    h.state.auth.reload(&h.state.registry).unwrap();

    // Ids from every tenant's data: each one's secrets and shared-looking
    // generated ids.
    let mut ids: Vec<String> = TENANTS.iter().flat_map(|t| (1..=3).map(move |n| format!("SECRET-{t}-{n}"))).collect();
    ids.extend(
        [
            "P00000001",
            "P00000002",
            "P00000300",
            "P00000301",
            "CU0000001",
            "CU0000002",
            "CT00000001",
            "CT00000002",
            "NOPE-1",
        ]
        .map(String::from),
    );

    // What the owner gets: routes 0 (GET product), 6 (create an order for
    // the product) and 15 (PIM product details) depend on whether the id
    // is one of the tenant's products (its 3 secrets and the generated
    // P00000001..P00000300); every other route answers 200 whatever the id.
    let own_status = |route: usize, target: &str, id: &str| -> u16 {
        let exists =
            id.starts_with(&format!("SECRET-{target}-")) || ["P00000001", "P00000002", "P00000300"].contains(&id);
        match (route, exists) {
            (0 | 15, true) => 200,
            (0 | 15, false) => 404,
            (6, true) => 201,
            (6, false) => 422,
            _ => 200,
        }
    };
    let callers_per_target = TENANTS.len() + 3;
    let expected_probes = (TENANTS.len() * ids.len() * routes("x", "y").len() * callers_per_target) as u64;
    assert_eq!(expected_probes, 6156, "3 targets × 18 ids × 19 routes × 6 callers (docs/RELIABILITY.md)");
    let (mut probes, mut cross_2xx, mut leaks) = (0u64, 0u64, Vec::new());
    let mut statuses: BTreeMap<(&str, u16), u64> = BTreeMap::new();
    for target in TENANTS {
        for id in &ids {
            for (route, (method, path, body)) in routes(target, id).into_iter().enumerate() {
                let mut callers: Vec<(&str, Option<&str>)> =
                    TENANTS.iter().map(|t| (*t, Some(keys[t].as_str()))).collect();
                callers.push(("revoked", Some("b2c_test_north_revoked_00000")));
                callers.push(("none", None));
                callers.push(("admin", Some(ADMIN)));
                for (who, key) in callers {
                    let r = h.call(method, &path, &body, key).await;
                    probes += 1;
                    let class = if who == target {
                        "own"
                    } else if TENANTS.contains(&who) {
                        "other-tenant"
                    } else {
                        who
                    };
                    *statuses.entry((class, r.status.as_u16())).or_default() += 1;
                    let text = String::from_utf8_lossy(&r.body);
                    if class != "own" && r.status.is_success() {
                        cross_2xx += 1;
                    }
                    for other in TENANTS.iter().filter(|t| **t != target) {
                        if text.contains(&format!("secret of {other}")) {
                            leaks.push(format!("{who} → {method} {path}: {text}"));
                        }
                    }
                    match class {
                        "own" => {
                            assert_eq!(r.status.as_u16(), own_status(route, target, id), "{method} {path}: {text}")
                        }
                        "other-tenant" => assert_eq!(r.problem(404)["detail"], "no such resource"),
                        _ => {
                            r.problem(401);
                        }
                    }
                    // Own secrets are visible to their owner, and only there.
                    if class == "own" && method == "GET" && path.ends_with(&format!("/erp/products/{id}")) {
                        let mine = id.starts_with(&format!("SECRET-{target}-"));
                        if id.starts_with("SECRET-") {
                            assert_eq!(r.status, if mine { 200 } else { 404 }, "{path}");
                        }
                    }
                }
            }
        }
    }
    eprintln!("isolation probes: {probes}; by caller class and status: {statuses:?}");
    assert_eq!(probes, expected_probes);
    // Every probe's answer, by caller class: the owner's exact mix (see
    // `own_status`), 404 for the 2 other tenants, 401 for the rest.
    let expected: BTreeMap<(&str, u16), u64> = [
        (("own", 200), 900),
        (("own", 201), 18),
        (("own", 404), 72),
        (("own", 422), 36),
        (("other-tenant", 404), 2052),
        (("revoked", 401), 1026),
        (("none", 401), 1026),
        (("admin", 401), 1026),
    ]
    .into_iter()
    .collect();
    assert_eq!(statuses, expected);
    assert_eq!(cross_2xx, 0, "cross-tenant 2xx");
    assert!(leaks.is_empty(), "{} leaks, first: {}", leaks.len(), leaks[0]);
    // The owner did see its secrets (the probe is not vacuous).
    let s = ndjson_lines(
        &h.get(Some(&keys["east"]), "/api/v1/tenants/east/erp/products/stream?nameContains=secret").await.body,
    );
    assert_eq!(
        s.iter().map(|l| l["id"].as_str().unwrap()).collect::<Vec<_>>(),
        ["SECRET-east-1", "SECRET-east-2", "SECRET-east-3"]
    );
}
