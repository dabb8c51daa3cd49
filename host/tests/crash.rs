//! Crash safety: the host is killed with SIGKILL at random points while
//! publishes, binds and syncs are in flight, then restarted, again and
//! again. After every kill: SQLite's integrity check passes, every
//! acknowledged publish is there with its bytes, no file is orphaned, every
//! binding points at published versions and never goes back behind an
//! acknowledged one, and acknowledged sync state is intact.
//!
//! Iterations: `B2C_CRASH_ITERATIONS` (default 200, the floor;
//! the figures of the last run are in docs/RELIABILITY.md).

mod common;

use common::{ADMIN, Served, admin, serve_with};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEMO_KEY: &str = "crash-test-demo-key-0123456789";

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The bundled mock-erp with a custom section: a distinct artifact.
fn variant(n: u64) -> Vec<u8> {
    let mut out = std::fs::read(b2c_host::bundled::MOCK_ERP_PATH).unwrap();
    let name = b"crash-variant";
    let payload = n.to_le_bytes();
    out.push(0);
    out.push((1 + name.len() + payload.len()) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

fn products(iteration: u64) -> Value {
    json!((1..=20)
        .map(|n| json!({
            "id": format!("SYNC-{iteration}-{n}"), "sku": format!("S-{n}"), "name": format!("crash sync {iteration}/{n}"),
            "description": "", "categoryId": "CAT-01-01", "price": { "amountMinor": n, "currency": "EUR" },
            "stock": 1, "unit": "pcs", "active": true, "modifiedAt": "2026-01-01T00:00:00Z",
        }))
        .collect::<Vec<_>>())
}

#[derive(Default)]
struct Acked {
    publishes: Vec<(String, String)>, // (name, sha256)
    binds: BTreeMap<String, u64>,     // tenant → productCount of the newest acknowledged bind
    syncs: Vec<u64>,                  // iterations whose sync was acknowledged
}

/// Everything checked on the data dir of a killed host, before restart.
fn check_on_disk(dir: &std::path::Path) -> BTreeSet<String> {
    let conn =
        rusqlite::Connection::open_with_flags(dir.join("registry.sqlite3"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let mut stmt = conn.prepare("SELECT DISTINCT sha256 FROM versions").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
}

/// Files in the artifact store and compile cache, by name.
fn store_files(dir: &std::path::Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut artifacts = BTreeSet::new();
    for shard in std::fs::read_dir(dir.join("artifacts")).unwrap().flatten() {
        if shard.path().is_dir() {
            for f in std::fs::read_dir(shard.path()).unwrap().flatten() {
                artifacts.insert(f.file_name().to_string_lossy().to_string());
            }
        } else {
            artifacts.insert(shard.file_name().to_string_lossy().to_string());
        }
    }
    let compiled = std::fs::read_dir(dir.join("compiled"))
        .unwrap()
        .flatten()
        .map(|f| f.file_name().to_string_lossy().to_string())
        .collect();
    (artifacts, compiled)
}

/// Checks a restarted host against what was acknowledged before the kill.
async fn check_restarted(s: &Served, dir: &std::path::Path, acked: &Acked, c: &reqwest::Client) {
    let base = &s.base;
    // Acknowledged publishes: present, same bytes.
    for (name, digest) in &acked.publishes {
        let (st, v) =
            admin(c, base, reqwest::Method::GET, &format!("/admin/v1/plugins/{name}/versions/1.0.0"), None).await;
        assert_eq!(st, 200, "acknowledged publish {name} is gone");
        assert_eq!(v["sha256"], *digest, "{name}");
        let bytes = c
            .get(format!("{base}/admin/v1/plugins/{name}/versions/1.0.0/artifact"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(sha(&bytes), *digest, "{name}: stored bytes");
    }
    // No orphans: artifact files are exactly the referenced digests (the
    // start-up sweep ran); compile-cache files only for referenced digests.
    let referenced = check_on_disk(dir);
    let (artifacts, compiled) = store_files(dir);
    let expected: BTreeSet<String> = referenced.iter().map(|d| format!("{d}.wasm")).collect();
    assert_eq!(artifacts, expected, "artifact files vs version rows");
    for f in &compiled {
        assert!(referenced.contains(f.split('-').next().unwrap()), "orphan compile-cache file {f}");
    }
    // Bindings: every pin is a published version with the pinned digest; a
    // tenant never falls behind its newest acknowledged bind.
    let (_, tenants) = admin(c, base, reqwest::Method::GET, "/admin/v1/tenants", None).await;
    let tenants = tenants["tenants"].as_array().unwrap().clone();
    for t in &tenants {
        let Some(b) = t.get("binding").filter(|b| !b.is_null()) else { continue };
        for (_, pin) in b["pins"].as_object().unwrap() {
            let (st, v) = admin(
                c,
                base,
                reqwest::Method::GET,
                &format!(
                    "/admin/v1/plugins/{}/versions/{}",
                    pin["plugin"].as_str().unwrap(),
                    pin["version"].as_str().unwrap()
                ),
                None,
            )
            .await;
            assert_eq!(st, 200, "pin {pin}");
            assert_eq!(v["sha256"], pin["sha256"], "pin {pin}");
        }
        let id = t["id"].as_str().or(t["tenant"].as_str()).unwrap_or_default();
        if let Some(&count) = acked.binds.get(id) {
            let have: u64 = b["config"]["productCount"].as_str().unwrap().parse().unwrap();
            assert!(have >= count, "{id}: binding went back from productCount {count} to {have}");
        }
    }
    // Acknowledged syncs: the host remembers them (a resend is unchanged).
    let last = acked.syncs.iter().rev().take(3).copied().collect::<Vec<_>>();
    for i in last {
        let r: Value = c
            .post(format!("{base}/api/v1/tenants/demo/erp/sync/products"))
            .bearer_auth(DEMO_KEY)
            .json(&products(i))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["unchanged"], 20, "sync of iteration {i} after restart: {r}");
    }
}

#[test]
fn sigkill_during_publish_bind_and_sync_loses_nothing_acknowledged() {
    let iterations: u64 = std::env::var("B2C_CRASH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut seed: u64 = 0x00C0_FFEE;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut kills_mid_flight, mut started) = (0u64, std::time::Instant::now());
    for i in 0..iterations {
        let mut served = serve_with(dir.path(), &[], Some(DEMO_KEY));
        if i > 0 {
            rt.block_on(check_restarted(&served, dir.path(), &acked.lock().unwrap(), &c));
        } else {
            started = std::time::Instant::now();
        }
        let base = served.base.clone();
        // New bytes (a compile, then the artifact write and row) or bytes
        // already stored (straight to the row): both windows get hit.
        let bytes = variant(if rand(2) == 0 { i } else { i.saturating_sub(1) });
        let digest = sha(&bytes);
        let ops = {
            let (c, acked, base) = (c.clone(), acked.clone(), base.clone());
            rt.spawn(async move {
                let publish = async {
                    let name = format!("crash-{i}");
                    let r = c
                        .put(format!("{base}/admin/v1/plugins/{name}/versions/1.0.0"))
                        .bearer_auth(ADMIN)
                        .header("content-type", "application/wasm")
                        .body(bytes)
                        .send()
                        .await;
                    if let Ok(r) = r
                        && r.status().as_u16() == 201
                        && r.bytes().await.is_ok()
                    {
                        acked.lock().unwrap().publishes.push((name, digest));
                    }
                };
                let bind = async {
                    let tenant = format!("ct{}", i % 4);
                    let count = 100 + i;
                    let body = json!({ "erp": { "plugin": "mock-erp", "version": "^1" }, "config": { "productCount": count } });
                    let (st, _) = admin(&c, &base, reqwest::Method::PUT, &format!("/admin/v1/tenants/{tenant}"), Some(body)).await;
                    if st == 200 {
                        acked.lock().unwrap().binds.insert(tenant, count);
                    }
                };
                let sync = async {
                    let r = c
                        .post(format!("{base}/api/v1/tenants/demo/erp/sync/products"))
                        .bearer_auth(DEMO_KEY)
                        .json(&products(i))
                        .send()
                        .await;
                    if let Ok(r) = r
                        && r.status().as_u16() == 200
                        && r.bytes().await.is_ok()
                    {
                        acked.lock().unwrap().syncs.push(i);
                    }
                };
                tokio::join!(publish, bind, sync);
            })
        };
        std::thread::sleep(Duration::from_millis(rand(250)));
        if !ops.is_finished() {
            kills_mid_flight += 1;
        }
        served.signal("KILL");
        assert!(served.wait_exit(Duration::from_secs(10)).is_some(), "SIGKILL ends the host");
        let _ = rt.block_on(ops);
        check_on_disk(dir.path());
    }
    // A final restart checks the last kill.
    let served = serve_with(dir.path(), &[], Some(DEMO_KEY));
    rt.block_on(check_restarted(&served, dir.path(), &acked.lock().unwrap(), &c));
    let a = acked.lock().unwrap();
    eprintln!(
        "crash loop: {iterations} SIGKILLs ({kills_mid_flight} with operations in flight) in {:?}; acknowledged: {} publishes, {} tenants bound, {} syncs — all intact",
        started.elapsed(),
        a.publishes.len(),
        a.binds.len(),
        a.syncs.len()
    );
    assert!(kills_mid_flight > 0, "no kill landed mid-flight");
}
