//! The registry over HTTP against a real SQLite file: publish, read, yank,
//! bind, upgrade, roll back, keys, auth, restarts.

use crate::fixtures;
use crate::util::*;
use axum::body::Body;
use axum::http::Request;
use b2c_host::bundled;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

async fn put_wasm(h: &TestHost, path: &str, bytes: Vec<u8>, extra: &[(&str, &str)]) -> Resp {
    let mut b = Request::put(path)
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/wasm");
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    h.request(b.body(Body::from(bytes)).unwrap()).await
}

fn mock_erp() -> Vec<u8> {
    bundled::MOCK_ERP.to_vec()
}

fn enventa() -> Vec<u8> {
    std::fs::read(bundled::ENVENTA_BRIDGE_PATH).expect("enventa-bridge component is built")
}

/// Files in the artifact store (excluding nothing: temp files would count).
fn artifact_files(h: &TestHost) -> Vec<String> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(h.dir.path().join("artifacts")).unwrap().flatten() {
        for f in std::fs::read_dir(shard.path()).unwrap().flatten() {
            out.push(f.file_name().to_string_lossy().to_string());
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn publish_list_show_download_round_trip() {
    let h = TestHost::start().await;
    let bytes = mock_erp();
    let r =
        put_wasm(&h, "/admin/v1/plugins/my-erp/versions/1.0.0", bytes.clone(), &[("x-content-sha256", &sha(&bytes))])
            .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["sha256"], sha(&bytes));
    assert_eq!(v["size"], bytes.len());
    assert_eq!(v["contractVersion"], "1.1.0");
    assert_eq!(v["exports"], json!(["erp", "crm", "pim"]));
    assert_eq!(v["compatibleWithHost"], true);
    assert_eq!(v["yanked"], false);
    let imports: Vec<&str> = v["imports"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    assert!(imports.contains(&"b2connect:provider/config@1.1.0"), "{imports:?}");
    assert!(imports.iter().all(|i| i.starts_with("wasi:") || i.starts_with("b2connect:provider/")));

    // Same bytes again: 200; other bytes under the same version: 409.
    assert_eq!(put_wasm(&h, "/admin/v1/plugins/my-erp/versions/1.0.0", bytes.clone(), &[]).await.status, 200);
    let c = put_wasm(&h, "/admin/v1/plugins/my-erp/versions/1.0.0", enventa(), &[]).await.problem(409);
    assert!(c["detail"].as_str().unwrap().contains(&sha(&bytes)));
    assert_eq!(put_wasm(&h, "/admin/v1/plugins/my-erp/versions/1.1.0", enventa(), &[]).await.status, 201);

    let list = h.admin("GET", "/admin/v1/plugins", None).await.json();
    let mine = list["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "my-erp").unwrap().clone();
    assert_eq!(mine["versions"], json!(["1.1.0", "1.0.0"]));
    assert_eq!(mine["latest"], "1.1.0");
    let shown = h.admin("GET", "/admin/v1/plugins/my-erp", None).await.json();
    assert_eq!(shown["versions"][1]["sha256"], sha(&bytes));
    assert_eq!(shown["versions"][0]["exports"], json!(["erp", "crm", "pim"]));
    assert_ne!(shown["versions"][0]["sha256"], shown["versions"][1]["sha256"]);
    let one = h.admin("GET", "/admin/v1/plugins/my-erp/versions/1.0.0", None).await.json();
    assert_eq!(one, v);

    let d = h.admin("GET", "/admin/v1/plugins/my-erp/versions/1.0.0/artifact", None).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.content_type(), "application/wasm");
    assert_eq!(d.headers["x-content-sha256"], sha(&bytes).as_str());
    assert_eq!(sha(&d.body), sha(&bytes));
    h.admin("GET", "/admin/v1/plugins/my-erp/versions/9.9.9/artifact", None).await.problem(404);
    h.admin("GET", "/admin/v1/plugins/nope", None).await.problem(404);

    // Yank: still downloadable and shown as yanked; unyank restores.
    let y = h.admin("POST", "/admin/v1/plugins/my-erp/versions/1.1.0/yank", None).await.json();
    assert_eq!(y["yanked"], true);
    assert_eq!(h.admin("GET", "/admin/v1/plugins/my-erp/versions/1.1.0/artifact", None).await.status, 200);
    let list = h.admin("GET", "/admin/v1/plugins", None).await.json();
    let mine = list["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "my-erp").unwrap().clone();
    assert_eq!(mine["latest"], "1.0.0");
    assert_eq!(h.admin("POST", "/admin/v1/plugins/my-erp/versions/1.1.0/unyank", None).await.json()["yanked"], false);

    let audit = h.admin("GET", "/admin/v1/audit?limit=10", None).await.json();
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[..4], &["unyank", "yank", "publish", "publish"]);
    assert!(audit["entries"][0]["actor"].as_str().unwrap().starts_with("admin:"));
}

#[tokio::test]
async fn malformed_uploads_are_refused_and_leave_nothing_behind() {
    let h = TestHost::start_with(|a| a.max_upload_mib = 1).await;
    let before_files = artifact_files(&h);
    let before_audit = h.admin("GET", "/admin/v1/audit", None).await.json()["entries"].as_array().unwrap().len();
    let precompiled = std::fs::read_dir(h.dir.path().join("compiled"))
        .unwrap()
        .flatten()
        .next()
        .expect("a compiled cache file")
        .path();

    let mut oversize = mock_erp();
    oversize.resize(1024 * 1024 + 1, 0);
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("empty", vec![], "invalid-component", "empty"),
        ("garbage", b"MZ this is not wasm at all".to_vec(), "invalid-component", "precompiled"),
        ("text", b"hello, registry".to_vec(), "invalid-component", "not WebAssembly"),
        ("core-module", b"\0asm\x01\0\0\0".to_vec(), "invalid-component", "core WebAssembly module"),
        // The host's own compile-cache artifact, cut to fit the 1 MiB
        // limit of this test (a compiled mock-erp is about that size).
        ("precompiled", std::fs::read(precompiled).unwrap()[..512 * 1024].to_vec(), "invalid-component", "precompiled"),
        ("truncated", mock_erp()[..5000].to_vec(), "invalid-component", "malformed"),
        ("oversize", oversize, "invalid-component", "over the upload limit"),
        ("no-provider", fixtures::not_a_provider(), "invalid-component", "exports none"),
        (
            "admin-import",
            fixtures::provider("1.0.0", "import admin;", ""),
            "incompatible-plugin",
            "b2connect:provider/admin@1.0.0",
        ),
        (
            "foreign-import",
            fixtures::provider(
                "1.0.0",
                "import wasi:http/handler@0.2.0;",
                "package wasi:http@0.2.0 { interface handler { handle: func(); } }",
            ),
            "incompatible-plugin",
            "wasi:http/handler@0.2.0",
        ),
        (
            "contract-2",
            fixtures::provider("2.0.0", "", ""),
            "incompatible-plugin",
            "this host supports b2connect:provider@1.0.0 through b2connect:provider@1.1.0",
        ),
        ("contract-1-2", fixtures::provider("1.2.0", "", ""), "incompatible-plugin", "minor ≤ 1"),
    ];
    for (name, bytes, slug, needle) in cases {
        let r = put_wasm(&h, &format!("/admin/v1/plugins/bad-{name}/versions/1.0.0"), bytes, &[]).await;
        let p = r.problem(422);
        assert_eq!(p["type"], format!("urn:b2connect:problem:{slug}"), "{name}: {p}");
        assert!(p["detail"].as_str().unwrap().contains(needle), "{name}: {p}");
    }
    // A digest that does not match the body.
    let p = put_wasm(
        &h,
        "/admin/v1/plugins/bad-digest/versions/1.0.0",
        mock_erp(),
        &[("x-content-sha256", &"0".repeat(64))],
    )
    .await
    .problem(422);
    assert_eq!(p["type"], "urn:b2connect:problem:digest-mismatch");
    // Wrong content type, bad name, bad version.
    let wrong = Request::put("/admin/v1/plugins/x/versions/1.0.0")
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/json")
        .body(Body::from(mock_erp()))
        .unwrap();
    h.request(wrong).await.problem(415);
    put_wasm(&h, "/admin/v1/plugins/Bad_Name/versions/1.0.0", mock_erp(), &[]).await.problem(422);
    put_wasm(&h, "/admin/v1/plugins/ok-name/versions/1.0", mock_erp(), &[]).await.problem(422);
    put_wasm(&h, "/admin/v1/plugins/ok-name/versions/01.0.0", mock_erp(), &[]).await.problem(422);

    assert_eq!(artifact_files(&h), before_files, "no artifact left behind");
    let list = h.admin("GET", "/admin/v1/plugins", None).await.json();
    let names: Vec<&str> = list["plugins"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["mock-erp"], "no plugin row left behind");
    let audit = h.admin("GET", "/admin/v1/audit", None).await.json()["entries"].as_array().unwrap().len();
    assert_eq!(audit, before_audit, "nothing audited for refused uploads");
    assert_eq!(h.state.registry.integrity_check().unwrap(), "ok");
}

/// The bundled mock-erp with its variant marker patched to `tag` (8 ASCII
/// bytes): a different component (own digest) whose products say which
/// variant served them (`description` = "mock-erp variant <tag>"). See
/// `VARIANT` in plugins/mock-erp/src/lib.rs for why a patch and not a
/// second build.
fn mock_erp_variant(tag: &str) -> Vec<u8> {
    const MARKER: &[u8] = b"MOCK-ERP-VARIANT:--------";
    assert_eq!(tag.len(), 8);
    let mut b = mock_erp();
    let at: Vec<usize> = b.windows(MARKER.len()).enumerate().filter(|(_, w)| *w == MARKER).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "the marker is in the built mock-erp exactly once");
    b[at[0] + 17..at[0] + 25].copy_from_slice(tag.as_bytes());
    b
}

/// Versions of `shop-erp` in publish order, each a distinct variant whose
/// tag is its rank: answers name the version that produced them.
const SWAP_VERSIONS: [(&str, &str); 4] =
    [("1.0.0", "rank0001"), ("1.1.0", "rank0002"), ("1.2.0", "rank0003"), ("2.0.0", "rank0004")];

/// Rank (1..=4) of the version that served a product, from its description.
fn served_by(product: &serde_json::Value) -> u64 {
    let d = product["description"].as_str().unwrap_or_else(|| panic!("no description: {product}"));
    let tag = d.strip_prefix("mock-erp variant rank").unwrap_or_else(|| panic!("not served by a variant: {d}"));
    tag.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_upgrade_rollback_under_load_fails_no_request() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    // No response cache: every request is answered by a plugin instance,
    // so each answer names the version that really served it.
    let h = Arc::new(TestHost::start_with(|a| a.cache_max_entries = 0).await);
    let mut digests = std::collections::BTreeSet::new();
    for (v, tag) in SWAP_VERSIONS {
        let bytes = mock_erp_variant(tag);
        digests.insert(sha(&bytes));
        assert_eq!(put_wasm(&h, &format!("/admin/v1/plugins/shop-erp/versions/{v}"), bytes, &[]).await.status, 201);
    }
    assert_eq!(digests.len(), 4, "four different components");
    const PRODUCTS: u64 = 20_000;
    let bind =
        |req: &str| json!({ "erp": { "plugin": "shop-erp", "version": req }, "config": { "productCount": PRODUCTS } });
    let r = h.admin("PUT", "/admin/v1/tenants/shop", Some(bind("=1.0.0"))).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["binding"]["pins"]["erp"]["version"], "1.0.0");
    assert_eq!(r.json()["binding"]["config"]["productCount"], PRODUCTS.to_string());
    let key = h.admin("POST", "/admin/v1/tenants/shop/api-keys", Some(json!({ "label": "load" }))).await;
    assert_eq!(key.status, 201);
    let key = key.json()["key"].as_str().unwrap().to_string();

    // A stream opened before the first swap, read one frame now and the
    // rest only after the last swap: the body is produced as it is read, so
    // it stays open (its cursor on the 1.0.0 instance) across every swap.
    let req = axum::http::Request::get("/api/v1/tenants/shop/erp/products/stream?batchSize=10")
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(h.app.clone(), req).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut stream_body = res.into_body();
    let mut streamed = Vec::new();
    use http_body_util::BodyExt;
    while !streamed.contains(&b'\n') {
        let frame = stream_body.frame().await.expect("a first frame").expect("body frame");
        streamed.extend_from_slice(frame.data_ref().expect("data frame"));
    }
    let read_before_swaps = streamed.iter().filter(|&&b| b == b'\n').count();

    // Load: each worker checks every answer names a version, and that the
    // versions it sees only move forward. `floor` is the rank of the newest
    // acknowledged swap: a request sent after that acknowledgment must be
    // served by that version or a newer one, never by one swapped out.
    let stop = Arc::new(AtomicBool::new(false));
    let floor = Arc::new(AtomicU64::new(1));
    let seen: Arc<[AtomicU64; 5]> = Arc::new(Default::default());
    let mut load = tokio::task::JoinSet::new();
    for w in 0..8u64 {
        let (h, key, stop, floor, seen) = (h.clone(), key.clone(), stop.clone(), floor.clone(), seen.clone());
        load.spawn(async move {
            let (mut n, mut last) = (0u64, 1u64);
            while !stop.load(Ordering::Relaxed) {
                tokio::task::yield_now().await;
                let id = pid(1 + (n * 7 + w) % PRODUCTS);
                let at_least = floor.load(Ordering::SeqCst);
                let r = h.get(Some(&key), &format!("/api/v1/tenants/shop/erp/products/{id}")).await;
                assert_eq!(r.status, 200, "request failed during a swap: {}", String::from_utf8_lossy(&r.body));
                let p = r.json();
                assert_eq!(p["id"], id.as_str());
                let rank = served_by(&p);
                assert!(rank >= last, "worker {w}: version went back from rank {last} to {rank}");
                assert!(rank >= at_least, "worker {w}: served by rank {rank} after rank {at_least} was acknowledged");
                seen[rank as usize].fetch_add(1, Ordering::Relaxed);
                last = rank;
                n += 1;
            }
            n
        });
    }
    // Each step waits until the load was served by the new version 200
    // times (an event, not a pause), so every swap happens under load.
    let served_by_rank = |rank: usize| {
        let seen = seen.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while seen[rank].load(Ordering::Relaxed) < 200 {
                assert!(std::time::Instant::now() < deadline, "rank {rank} never served 200 requests");
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
    };
    let plugin_of = |h: &TestHost| h.provider("shop", b2c_host::ProviderKind::Erp).handle.spec().plugin.to_string();
    served_by_rank(1).await;
    for (req, version, rank) in [("=1.1.0", "1.1.0", 2), ("^1", "1.2.0", 3), ("*", "2.0.0", 4)] {
        let up = h.admin("PUT", "/admin/v1/tenants/shop", Some(bind(req))).await;
        assert_eq!(up.json()["binding"]["pins"]["erp"]["version"], version, "{req}");
        floor.store(rank as u64, Ordering::SeqCst);
        assert_eq!(plugin_of(&h), format!("shop-erp@{version}"));
        served_by_rank(rank).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    while let Some(n) = load.join_next().await {
        total += n.expect("load worker");
    }
    let per_rank: Vec<u64> = seen.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    eprintln!("hot swap: {total} requests, by version rank {:?}", &per_rank[1..]);
    assert!(per_rank[1..].iter().all(|&n| n >= 200), "every version served the load: {per_rank:?}");
    assert_eq!(per_rank[1..].iter().sum::<u64>(), total);

    // The stream opened on 1.0.0 before the first swap: complete, in order,
    // every record from 1.0.0, no error line.
    while let Some(frame) = stream_body.frame().await {
        streamed.extend_from_slice(frame.expect("body frame").data_ref().expect("data frame"));
    }
    let lines = ndjson_lines(&streamed);
    eprintln!("hot swap: the stream had {read_before_swaps} of {} records read before the first swap", lines.len());
    assert!(read_before_swaps < 100, "the stream was still open at the first swap ({read_before_swaps} read)");
    assert_eq!(lines.len(), PRODUCTS as usize, "a stream opened before a swap completes on the old plugin");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["id"], pid(i as u64 + 1).as_str(), "record {i}: {l}");
        assert_eq!(served_by(l), 1, "record {i} of the old stream came from another version: {l}");
    }

    // Rollback walks the history back, one binding at a time; each answer
    // comes from the version rolled back to.
    let product_rank = |h: Arc<TestHost>, key: String| async move {
        served_by(&h.get(Some(&key), "/api/v1/tenants/shop/erp/products/P00000001").await.json())
    };
    assert_eq!(product_rank(h.clone(), key.clone()).await, 4);
    for (version, rank) in [("1.2.0", 3), ("1.1.0", 2), ("1.0.0", 1)] {
        let back = h.admin("POST", "/admin/v1/tenants/shop/rollback", None).await;
        assert_eq!(back.status, 200);
        assert_eq!(back.json()["binding"]["pins"]["erp"]["version"], version);
        assert_eq!(plugin_of(&h), format!("shop-erp@{version}"));
        assert_eq!(product_rank(h.clone(), key.clone()).await, rank, "after rollback to {version}");
    }
    h.admin("POST", "/admin/v1/tenants/shop/rollback", None).await.problem(409);

    // Yanked versions are skipped by resolution but stay pinned where bound.
    h.admin("POST", "/admin/v1/plugins/shop-erp/versions/1.2.0/yank", None).await;
    let r = h.admin("PUT", "/admin/v1/tenants/shop", Some(bind("^1"))).await;
    assert_eq!(r.json()["binding"]["pins"]["erp"]["version"], "1.1.0");
    assert_eq!(product_rank(h.clone(), key.clone()).await, 2);
    let r = h.admin("PUT", "/admin/v1/tenants/shop", Some(bind("=1.2.0"))).await.problem(404);
    assert!(r["detail"].as_str().unwrap().contains("=1.2.0"));
    // Kinds the tenant has no binding for answer 404 (shop binds ERP only),
    // while its ERP stream still works.
    let unbound = h.get(Some(&key), "/api/v1/tenants/shop/crm/contacts/CT00000001").await.problem(404);
    assert_eq!(unbound["type"], "urn:b2connect:problem:binding-missing");
    assert_eq!(unbound["detail"], "tenant shop has no crm provider bound");
    let p = h.get(Some(&key), "/api/v1/tenants/shop/erp/products/stream?nameContains=zzzz-none").await;
    assert_eq!(p.status, 200);
    let bad = h
        .admin(
            "PUT",
            "/admin/v1/tenants/shop",
            Some(json!({ "erp": { "plugin": "shop-erp", "version": "^1" }, "bogus": 1 })),
        )
        .await;
    bad.problem(422);
    h.admin("PUT", "/admin/v1/tenants/Bad!", Some(bind("^1"))).await.problem(422);
    h.admin("PUT", "/admin/v1/tenants/x", Some(json!({ "crm": { "plugin": "enventa-none", "version": "^1" } })))
        .await
        .problem(404);
}

#[tokio::test]
async fn api_keys_are_shown_once_stored_hashed_and_revocable() {
    let h = TestHost::start().await;
    let created = h.admin("POST", "/admin/v1/tenants/demo/api-keys", None).await;
    assert_eq!(created.status, 201);
    let k = created.json();
    let (id, secret) = (k["id"].as_str().unwrap().to_string(), k["key"].as_str().unwrap().to_string());
    assert_eq!(h.get(Some(&secret), "/api/v1/tenants/demo/erp/products/P00000001").await.status, 200);

    // Listing shows metadata, never the key.
    let list = h.admin("GET", "/admin/v1/tenants/demo/api-keys", None).await;
    assert!(!String::from_utf8_lossy(&list.body).contains(&secret));
    assert!(list.json()["apiKeys"].as_array().unwrap().iter().any(|k| k["id"] == id.as_str()));
    let db = std::fs::read(h.dir.path().join("registry.sqlite3")).unwrap();
    assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()), "the key is stored hashed only");

    let r = h.admin("DELETE", &format!("/admin/v1/tenants/demo/api-keys/{id}"), None).await;
    assert_eq!(r.json()["revoked"], true);
    h.get(Some(&secret), "/api/v1/tenants/demo/erp/products/P00000001").await.problem(401);
    h.admin("DELETE", &format!("/admin/v1/tenants/demo/api-keys/{id}"), None).await.problem(404);
    h.admin("POST", "/admin/v1/tenants/ghost/api-keys", None).await.problem(404);
    // The other key of the tenant still works.
    assert_eq!(h.get(Some(DEMO_KEY), "/api/v1/tenants/demo/erp/products/P00000001").await.status, 200);
}

#[tokio::test]
async fn api_keys_per_tenant_are_capped_and_admin_answers_follow_one_convention() {
    let h = TestHost::start().await;
    // The demo tenant starts with its one key; 19 more reach the cap of 20.
    let mut ids = Vec::new();
    for n in 0..19 {
        let r = h.admin("POST", "/admin/v1/tenants/demo/api-keys", Some(json!({ "label": format!("k{n}") }))).await;
        assert_eq!(r.status, 201, "key {n}");
        ids.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let over = h.admin("POST", "/admin/v1/tenants/demo/api-keys", None).await.problem(409);
    assert!(over["detail"].as_str().unwrap().contains("20 active API keys"), "{over}");
    let keys = h.admin("GET", "/admin/v1/tenants/demo/api-keys", None).await.json();
    assert_eq!(keys["apiKeys"].as_array().unwrap().len(), 20);
    // A revoked key frees its place; it stays listed, with its revocation time.
    h.admin("DELETE", &format!("/admin/v1/tenants/demo/api-keys/{}", ids[0]), None).await;
    assert_eq!(h.admin("POST", "/admin/v1/tenants/demo/api-keys", None).await.status, 201);
    let keys = h.admin("GET", "/admin/v1/tenants/demo/api-keys", None).await.json();
    let keys = keys["apiKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 21);
    assert_eq!(keys.iter().filter(|k| k["revokedAt"].is_string()).count(), 1);

    // camelCase fields and RFC 3339 UTC timestamps in every admin answer.
    let rfc3339 = |v: &Value, what: &str| {
        let s = v.as_str().unwrap_or_else(|| panic!("{what} is not a string: {v}"));
        assert!(
            s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T',
            "{what} is not RFC 3339 UTC: {s}"
        );
    };
    for k in keys {
        rfc3339(&k["createdAt"], "key createdAt");
        assert!(k.get("created_at").is_none());
    }
    let t = h.admin("GET", "/admin/v1/tenants/demo", None).await.json();
    rfc3339(&t["binding"]["createdAt"], "binding createdAt");
    assert!(t["binding"]["createdBy"].is_string());
    let tenants = h.admin("GET", "/admin/v1/tenants", None).await.json();
    rfc3339(&tenants["tenants"][0]["createdAt"], "tenant createdAt");
    let audit = h.admin("GET", "/admin/v1/audit?limit=5", None).await.json();
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 5);
    rfc3339(&entries[0]["at"], "audit at");
    let v = h.admin("GET", "/admin/v1/plugins/mock-erp/versions/1.0.0", None).await.json();
    rfc3339(&v["publishedAt"], "publishedAt");
    assert_eq!(v["compatibleWithHost"], true);
}

#[tokio::test]
async fn admin_auth_matrix() {
    let h = TestHost::start().await;
    let routes: [(&str, &str); 12] = [
        ("GET", "/admin/v1/plugins"),
        ("GET", "/admin/v1/plugins/mock-erp"),
        ("GET", "/admin/v1/plugins/mock-erp/versions/1.0.0"),
        ("PUT", "/admin/v1/plugins/mock-erp/versions/1.0.0"),
        ("GET", "/admin/v1/plugins/mock-erp/versions/1.0.0/artifact"),
        ("POST", "/admin/v1/plugins/mock-erp/versions/1.0.0/yank"),
        ("POST", "/admin/v1/plugins/mock-erp/versions/1.0.0/unyank"),
        ("PUT", "/admin/v1/tenants/demo"),
        ("GET", "/admin/v1/tenants/demo"),
        ("POST", "/admin/v1/tenants/demo/rollback"),
        ("POST", "/admin/v1/tenants/demo/api-keys"),
        ("GET", "/admin/v1/audit"),
    ];
    for (method, path) in routes {
        for (token, status) in [(None, 401), (Some(DEMO_KEY), 403), (Some("not-the-admin-token"), 401)] {
            let mut b = Request::builder().method(method).uri(path);
            if let Some(t) = token {
                b = b.header("authorization", format!("Bearer {t}"));
            }
            let p = h.request(b.body(Body::empty()).unwrap()).await.problem(status);
            assert!(p["detail"].is_string(), "{method} {path}");
        }
        let ok = h.admin(method, path, None).await;
        assert!(ok.status != 401 && ok.status != 403, "{method} {path} with the admin token: {}", ok.status);
    }
    // DELETE of a key needs the admin token too.
    h.request(Request::delete("/admin/v1/tenants/demo/api-keys/key_x").body(Body::empty()).unwrap()).await.problem(401);
}

#[tokio::test]
async fn restart_keeps_plugins_bindings_and_keys() {
    let h = TestHost::start().await;
    assert_eq!(put_wasm(&h, "/admin/v1/plugins/kept-erp/versions/1.2.3", mock_erp(), &[]).await.status, 201);
    let r = h.admin("PUT", "/admin/v1/tenants/kept", Some(json!({ "erp": { "plugin": "kept-erp", "version": "^1" }, "pim": { "plugin": "mock-erp", "version": "^1" }, "config": { "productCount": "77" } }))).await;
    assert_eq!(r.status, 200);
    let key =
        h.admin("POST", "/admin/v1/tenants/kept/api-keys", None).await.json()["key"].as_str().unwrap().to_string();
    let h2 = h.restart().await;
    let v = h2.admin("GET", "/admin/v1/plugins/kept-erp/versions/1.2.3", None).await.json();
    assert_eq!(v["sha256"], sha(bundled::MOCK_ERP));
    let t = h2.admin("GET", "/admin/v1/tenants/kept", None).await.json();
    assert_eq!(t["binding"]["pins"]["erp"]["plugin"], "kept-erp");
    assert_eq!(t["binding"]["pins"]["pim"]["plugin"], "mock-erp");
    // The key still works and the binding is live with its config.
    let last = h2.get(Some(&key), "/api/v1/tenants/kept/erp/products/P00000077").await;
    assert_eq!(last.status, 200);
    h2.get(Some(&key), "/api/v1/tenants/kept/erp/products/P00000078").await.problem(404);
    assert_eq!(h2.get(Some(DEMO_KEY), "/api/v1/tenants/demo/erp/products/P00000001").await.status, 200);
}

/// `serve --require-conformance`: publish runs the provider conformance
/// check on the compiled upload and refuses a component that breaks a
/// rule, recording nothing; a provider that needs its binding's back end
/// (the bridge, unavailable without a socket) is published with its rules
/// skipped; without the flag the broken one is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_conformance_refuses_a_provider_that_breaks_a_rule() {
    let sloppy = std::fs::read(b2c_host::bundled::SLOPPY_PATH).unwrap();
    let broken = sloppy_breaking("batch-order");

    let h = TestHost::start_with(|a| a.require_conformance = true).await;
    let r = put_wasm(&h, "/admin/v1/plugins/sloppy/versions/1.0.0", broken.clone(), &[]).await;
    let p = r.problem(422);
    assert_eq!(p["type"], "urn:b2connect:problem:nonconformant-plugin");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.starts_with("1 of 21 conformance rules failed"), "{detail}");
    assert!(detail.contains("erp.products.batch-order: "), "{detail}");
    h.admin("GET", "/admin/v1/plugins/sloppy/versions/1.0.0", None).await.problem(404);

    // The same fixture unbroken passes, and is recorded.
    let r = put_wasm(&h, "/admin/v1/plugins/sloppy/versions/1.0.0", sloppy, &[]).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(h.admin("GET", "/admin/v1/plugins/sloppy/versions/1.0.0", None).await.json()["version"], "1.0.0");

    // No socket at publish: the bridge's rules are skipped, not failed.
    let bridge = std::fs::read(b2c_host::bundled::ENVENTA_BRIDGE_PATH).unwrap();
    let r = put_wasm(&h, "/admin/v1/plugins/enventa-bridge/versions/1.0.0", bridge, &[]).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // The flag is what refuses: a host without it records the broken one.
    let plain = TestHost::start().await;
    let r = put_wasm(&plain, "/admin/v1/plugins/sloppy/versions/1.0.0", broken, &[]).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

/// The `sloppy` fixture broken with no settings, as publish runs it: its
/// default break sits in its data segment as a marker padded with
/// underscores; the same length keeps the component valid.
fn sloppy_breaking(rule: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(b2c_host::bundled::SLOPPY_PATH).unwrap();
    let marker = b"SLOPPY-DEFAULT-BREAK:________________________________";
    let at: Vec<usize> = bytes.windows(marker.len()).enumerate().filter(|(_, w)| w == marker).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "the marker is in the component once");
    let patch = format!("SLOPPY-DEFAULT-BREAK:{rule:_<32}");
    assert_eq!(patch.len(), marker.len());
    bytes[at[0]..at[0] + marker.len()].copy_from_slice(patch.as_bytes());
    bytes
}

/// Publish's check has a deadline (`--conformance-timeout-secs`): a
/// provider that answers each get slowly, inside the call timeout, is
/// refused with 422 once the deadline passes, the detail saying where it
/// stopped and when; nothing is recorded; a call in flight then ends with
/// the check. Each call is bounded by the serving host's call timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_refuses_a_provider_whose_check_outlasts_the_deadline() {
    let h = TestHost::start_with(|a| {
        a.require_conformance = true;
        a.conformance_timeout_secs = 1;
    })
    .await;
    let idle = h.metric("erp_provider_plugin_instances").await;
    let r = put_wasm(&h, "/admin/v1/plugins/slow/versions/1.0.0", sloppy_breaking("slow"), &[]).await;
    let p = r.problem(422);
    assert_eq!(p["type"], "urn:b2connect:problem:nonconformant-plugin");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.starts_with("1 of 21 conformance rules failed"), "{detail}");
    let said = "check.finishes-within-deadline: stopped at ";
    let at = detail.find(said).unwrap_or_else(|| panic!("{detail}")) + said.len();
    let stopped: f64 = detail[at..].split_whitespace().next().unwrap().parse().unwrap();
    assert!((1.0..2.5).contains(&stopped), "the check stopped at {stopped} s: {detail}");
    h.admin("GET", "/admin/v1/plugins/slow/versions/1.0.0", None).await.problem(404);

    // A call still running at the deadline ends with the check: a get that
    // stalls for 20 s (inside the 30 s call timeout) does not keep its
    // instance alive after the 422 (the gauge is back within 5 s, not 20).
    let r = put_wasm(&h, "/admin/v1/plugins/stall/versions/1.0.0", sloppy_breaking("stall"), &[]).await;
    let detail = r.problem(422)["detail"].as_str().unwrap().to_string();
    // Stalled in publish's first call, the probe for a back end: no rule had begun.
    assert!(detail.contains("check.finishes-within-deadline: stopped at "), "{detail}");
    assert!(detail.contains("during its first call (the probe for a back end), with 0 rules judged"), "{detail}");
    let t0 = std::time::Instant::now();
    while h.metric("erp_provider_plugin_instances").await != idle {
        assert!(t0.elapsed() < std::time::Duration::from_secs(5), "the stalled check's instance is still alive");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The check runs under the serving host's limits: with a call timeout
    // of 500 ms, the 1 s gets time out (the default deadline of 60 s is
    // not what fails).
    let h = TestHost::start_with(|a| {
        a.require_conformance = true;
        a.call_timeout_ms = 500;
    })
    .await;
    let r = put_wasm(&h, "/admin/v1/plugins/slower/versions/1.0.0", sloppy_breaking("slower"), &[]).await;
    let detail = r.problem(422)["detail"].as_str().unwrap().to_string();
    assert!(detail.starts_with("2 of 21 conformance rules failed"), "{detail}");
    for rule in ["erp.products.unknown-not-found", "erp.products.stream-equals-get"] {
        let said = detail.split("; ").find(|d| d.contains(&format!("{rule}: "))).unwrap_or_else(|| panic!("{detail}"));
        assert!(said.ends_with("the plugin did not answer within 500ms") || said.contains("within 500ms,"), "{said}");
    }
}

/// A restart listens before its tenants' plugins compile: each bound
/// tenant is named not-ready (`starting`) and answers 503
/// `tenant-starting` with Retry-After until its activation finishes; a
/// rebind meanwhile wins over the start-up activation; a tenant whose
/// binding cannot start (its memory limit is over the restarted host's
/// ceiling) stays not-ready with the reason, and the others serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_listens_before_its_tenants_compile() {
    let h = TestHost::start().await;
    h.publish("shop", "1.0.0", std::fs::read(bundled::READONLY_ERP_PATH).unwrap()).await;
    let shop =
        |count: &str| json!({ "erp": { "plugin": "shop", "version": "^1" }, "config": { "productCount": count } });
    let shop_key = h.bind_with_key("shop", shop("5")).await;
    let big = json!({ "erp": { "plugin": "mock-erp", "version": "^1" }, "config": { "limits.memoryMib": "200" } });
    let big_key = h.bind_with_key("big", big).await;
    std::fs::remove_dir_all(h.dir.path().join("compiled")).unwrap();

    let (h2, startup) = h.restart_listening_with(|a| a.instance_memory_mib = 128).await;
    let mut tenants: Vec<&str> = startup.iter().map(|b| b.tenant.as_str()).collect();
    tenants.sort();
    assert_eq!(tenants, ["big", "demo", "shop"]);
    let ready = h2.get(None, "/readyz").await;
    assert_eq!(ready.status, 200, "the host is ready while its tenants start");
    let ready = ready.json();
    assert_eq!(ready["notReady"], json!(["big", "demo", "shop"]));
    let states: Vec<(&str, &str)> = ready["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["tenant"].as_str().unwrap(), p["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("big", "starting"), ("demo", "starting"), ("shop", "starting")]);
    let r = h2.get(Some(&shop_key), "/api/v1/tenants/shop/erp/products/P1").await;
    assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(r.problem(503)["type"], "urn:b2connect:problem:tenant-starting");

    // Rebound while starting: the new binding stays live after start-up.
    let shop_key = h2.bind_with_key("shop", shop("7")).await;
    b2c_host::server::Host::finish_startup(h2.state.runtime.clone(), startup).await;
    assert_eq!(h2.get(Some(&shop_key), "/api/v1/tenants/shop/erp/products/P7").await.json()["id"], "P7");
    h2.get(Some(&shop_key), "/api/v1/tenants/shop/erp/products/P8").await.problem(404);
    assert_eq!(h2.get(Some(DEMO_KEY), "/api/v1/tenants/demo/erp/products/P00000001").await.json()["id"], "P00000001");

    let ready = h2.get(None, "/readyz").await.json();
    assert_eq!(ready["notReady"], json!(["big"]), "{ready}");
    let failed = ready["providers"].as_array().unwrap().iter().find(|p| p["tenant"] == "big").unwrap().clone();
    assert_eq!(failed["state"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("limits.memoryMib"), "{failed}");
    let r = h2.get(Some(&big_key), "/api/v1/tenants/big/erp/products/P00000001").await;
    assert!(r.headers.get("retry-after").is_none(), "an operator mends it, waiting does not");
    let p = r.problem(503);
    assert_eq!(p["type"], "urn:b2connect:problem:tenant-unavailable");
    assert!(p["detail"].as_str().unwrap().contains("limits.memoryMib"), "{p}");

    // Rebinding within the ceiling brings it up.
    let r = h2
        .admin(
            "PUT",
            "/admin/v1/tenants/big",
            Some(json!({ "erp": { "plugin": "mock-erp", "version": "^1" }, "config": { "limits.memoryMib": "100" } })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(h2.get(Some(&big_key), "/api/v1/tenants/big/erp/products/P00000001").await.status, 200);
    assert_eq!(h2.get(None, "/readyz").await.json()["notReady"], json!([]));
}

/// Contract 1.1's `lifecycle.init` checks a binding's settings before it is
/// committed: mock-erp with `productCount=lots` is refused with 422 naming
/// the key, and the tenant keeps serving on its previous binding (same
/// actor, same data). The trial instance that ran `init` is gone when the
/// bind answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_refuses_the_bind_and_the_old_binding_serves_on() {
    let h = TestHost::start().await;
    let idle = h.metric("erp_provider_plugin_instances").await;
    let five = json!({ "erp": { "plugin": "mock-erp", "version": "^1" }, "config": { "productCount": "5" } });
    let key = h.bind_with_key("shop", five).await;
    // The bind ran init on a trial instance and waited for its shutdown:
    // no instance is left until the first call makes the tenant's own.
    assert_eq!(h.metric("erp_provider_plugin_instances").await, idle);
    assert_eq!(h.get(Some(&key), "/api/v1/tenants/shop/erp/products/P00000005").await.status, 200);
    let before = h.provider("shop", b2c_host::ProviderKind::Erp);
    let bind =
        |count: &str| json!({ "erp": { "plugin": "mock-erp", "version": "^1" }, "config": { "productCount": count } });
    let p = h.admin("PUT", "/admin/v1/tenants/shop", Some(bind("lots"))).await.problem(422);
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("mock-erp@1.0.0 refused the binding"), "{detail}");
    assert!(detail.contains("invalid-input") && detail.contains("productCount") && detail.contains("lots"), "{detail}");
    assert!(
        h.provider("shop", b2c_host::ProviderKind::Erp).handle.same_actor(&before.handle),
        "the old actor serves on"
    );
    let t = h.admin("GET", "/admin/v1/tenants/shop", None).await.json();
    assert_eq!(t["binding"]["config"]["productCount"], "5", "{t}");
    // Still 5 products: P00000006 is unknown, P00000005 is there.
    assert_eq!(h.get(Some(&key), "/api/v1/tenants/shop/erp/products/P00000006").await.status, 404);
    assert_eq!(h.get(Some(&key), "/api/v1/tenants/shop/erp/products/P00000005").await.status, 200);
    // The tenant's one live instance, and no trial instance left over.
    assert_eq!(h.metric("erp_provider_plugin_instances").await, idle + 1.0);
    // A value that parses binds.
    assert_eq!(h.admin("PUT", "/admin/v1/tenants/shop", Some(bind("7"))).await.status, 200);
    assert_eq!(h.get(Some(&key), "/api/v1/tenants/shop/erp/products/P00000007").await.status, 200);
}

/// A plugin built against contract 1.0.0 (the `hostile` fixture, raw
/// bindings of `wit/1.0.0`) publishes, binds and serves on this 1.1 host:
/// wasmtime matches its `@1.0.0` names to the host's `@1.1.0` ones, and
/// it simply gets no lifecycle calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_one_point_zero_plugin_runs_on_this_host() {
    let h = TestHost::start().await;
    let r =
        put_wasm(&h, "/admin/v1/plugins/old/versions/1.0.0", std::fs::read(bundled::HOSTILE_PATH).unwrap(), &[]).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!((v["contractVersion"].as_str(), v["compatibleWithHost"].as_bool()), (Some("1.0.0"), Some(true)), "{v}");
    let imports: Vec<&str> = v["imports"].as_array().unwrap().iter().filter_map(|i| i.as_str()).collect();
    assert!(imports.contains(&"b2connect:provider/socket@1.0.0"), "{imports:?}");
    let key = h.bind_with_key("old", json!({ "erp": { "plugin": "old", "version": "^1" } })).await;
    // The hostile fixture answers an ordinary id with not-found.
    let p = h.get(Some(&key), "/api/v1/tenants/old/erp/products/P1").await.problem(404);
    assert_eq!(p["type"], "urn:b2connect:problem:not-found", "{p}");
}

/// A plugin whose `lifecycle.shutdown` never returns (`sloppy`,
/// `break=shutdown-hang`) cannot hold the host: the bind's trial instance
/// and a retired actor's instance are each dropped at the shutdown limit
/// (5 s), and the instances gauge comes back to its idle value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_that_never_returns_is_cut_at_the_limit() {
    let h = TestHost::start().await;
    let idle = h.metric("erp_provider_plugin_instances").await;
    h.publish("sloppy", "1.0.0", std::fs::read(bundled::SLOPPY_PATH).unwrap()).await;
    let body = json!({ "erp": { "plugin": "sloppy", "version": "^1" }, "config": { "break": "shutdown-hang" } });
    let t = std::time::Instant::now();
    let key = h.bind_with_key("hang", body).await;
    let took = t.elapsed();
    // The trial's shutdown hung until the limit, and not much longer.
    assert!(took >= std::time::Duration::from_millis(4500), "bind took {took:?}: the hang did not happen");
    assert!(took < std::time::Duration::from_secs(15), "bind took {took:?}");
    assert_eq!(h.metric("erp_provider_plugin_instances").await, idle, "the trial instance is gone");
    assert_eq!(h.get(Some(&key), "/api/v1/tenants/hang/erp/products/P01").await.json()["id"], "P01");
    assert_eq!(h.metric("erp_provider_plugin_instances").await, idle + 1.0);
    // Rebinding (no break now) retires the actor; its hung shutdown ends
    // at the limit and its instance with it.
    let plain = json!({ "erp": { "plugin": "sloppy", "version": "^1" } });
    let t = std::time::Instant::now();
    assert_eq!(h.admin("PUT", "/admin/v1/tenants/hang", Some(plain)).await.status, 200);
    wait_until("the retired instance to end", std::time::Duration::from_secs(15), || async {
        h.metric("erp_provider_plugin_instances").await == idle
    })
    .await;
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(4500),
        "{:?}: the retired shutdown did not hang",
        t.elapsed()
    );
}

/// A plugin that panics in `lifecycle.init` (`sloppy`, `break=init-panic`)
/// refuses the bind with 422 saying where it trapped and what it printed
/// (the panic message comes from its stderr), not "restarted"; a refused
/// bind of a new tenant leaves no per-tenant metric behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_init_refuses_the_bind_with_the_panic_message() {
    let h = TestHost::start().await;
    h.publish("sloppy", "1.0.0", std::fs::read(bundled::SLOPPY_PATH).unwrap()).await;
    let body = json!({ "erp": { "plugin": "sloppy", "version": "^1" }, "config": { "break": "init-panic" } });
    let p = h.admin("PUT", "/admin/v1/tenants/panicky", Some(body)).await.problem(422);
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("sloppy@1.0.0 refused the binding: it trapped in lifecycle.init"), "{detail}");
    assert!(detail.contains("sloppy refuses to start: break=init-panic"), "{detail}");
    assert!(!detail.contains("restarted"), "{detail}");
    assert!(h.state.runtime.provider("panicky", b2c_host::ProviderKind::Erp).is_none());
    let metrics = h.get(None, "/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(!text.contains("tenant=\"panicky\""), "a refused bind left a series: {text}");
}

/// A full instance pool (`serve --max-instances`) is the host's limit, not
/// the plugin's fault: a bind whose trial instance finds no room is
/// accepted (nothing was learnt of the plugin), a call answers 503
/// `host-at-capacity` (the log names the flag), a publish whose conformance check
/// finds no room answers the same and records nothing, and once a slot
/// frees up (here: the demo tenant's old instance, retired by a rebind) the
/// tenant serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_instance_pool_is_the_hosts_limit_not_the_plugins() {
    let h = TestHost::start_with(|a| {
        a.max_instances = 1;
        a.require_conformance = true;
    })
    .await;
    // The demo tenant's instance takes the one slot.
    let demo = h.get(Some(DEMO_KEY), "/api/v1/tenants/demo/erp/products/P00000001").await;
    assert_eq!(demo.status, 200, "{}", String::from_utf8_lossy(&demo.body));
    let r = put_wasm(&h, "/admin/v1/plugins/mock-erp/versions/1.0.1", bundled::MOCK_ERP.to_vec(), &[]).await;
    let p = r.problem(503);
    assert_eq!(p["type"], "urn:b2connect:problem:host-at-capacity", "{p}");
    let shown = h.admin("GET", "/admin/v1/plugins/mock-erp", None).await.json();
    assert_eq!(shown["versions"].as_array().map(|v| v.len()), Some(1), "nothing recorded: {shown}");
    let mock = || json!({ "erp": { "plugin": "mock-erp", "version": "^1" } });
    let key = h.bind_with_key("shop", mock()).await;
    let r = h.get(Some(&key), "/api/v1/tenants/shop/erp/products/P00000001").await;
    let p = r.problem(503);
    assert_eq!(p["type"], "urn:b2connect:problem:host-at-capacity", "{p}");
    assert_eq!(p["detail"], "the host has no room to start another plugin instance now; retry later", "{p}");
    assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    // Not the plugin's failure: no restart counted, no breaker opened.
    let status = h.provider("shop", b2c_host::ProviderKind::Erp).status();
    assert_eq!((status.restarts, status.breaker_open, status.last_error.is_none()), (0, false, true), "{status:?}");
    // Rebinding the demo retires its actor; its instance's slot frees up.
    assert_eq!(h.admin("PUT", "/admin/v1/tenants/demo", Some(mock())).await.status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = h.get(Some(&key), "/api/v1/tenants/shop/erp/products/P00000001").await;
        if r.status == 200 {
            assert_eq!(r.json()["id"], "P00000001");
            break;
        }
        assert_eq!(r.problem(503)["type"], "urn:b2connect:problem:host-at-capacity");
        assert!(std::time::Instant::now() < deadline, "the freed slot never served the waiting tenant");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
