//! Crash safety: the host is killed with SIGKILL at random points while
//! publishes, binds and syncs are in flight, then restarted, again and
//! again. After every kill: SQLite's integrity check passes and no file is
//! orphaned. After every restart, every write the *client* saw
//! acknowledged (not whatever the host happens to list) is checked:
//! - each acknowledged publish is there with its digest and bytes;
//! - each tenant whose bind was acknowledged is bound, at the acknowledged
//!   binding or a newer one, and its pins name published versions;
//! - each acknowledged sync is where a real ERP holds it: the syncs go
//!   through the enventa bridge to the enventa simulator, which runs in this
//!   test process and so outlives every killed host; every record of every
//!   acknowledged sync is read back from it through the restarted host, and
//!   the host's delta state still knows all of them (a resend changes
//!   nothing).
//!
//! Every fourth iteration kills the host only after all three operations
//! were answered (a kill right after an acknowledgment: the durability
//! case), so each kind of write is acknowledged often; the others kill at a
//! random point (0–250 ms) with operations in flight.
//!
//! Iterations: `B2C_CRASH_ITERATIONS` (default 200, the floor;
//! the figures of the last run are in docs/RELIABILITY.md).

mod common;

use common::{ADMIN, Served, admin, publish_request, serve_with};
use enventa_sim::{Sim, SimConfig};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records per sync.
const PER_SYNC: u64 = 20;
/// The tenant bound to the enventa bridge; its syncs land in the simulator.
const ERP_TENANT: &str = "ent";

/// Host flags: no response cache, so every read after a restart is
/// answered by the ERP (the simulator), not by anything the host kept.
const FLAGS: &[&str] = &["--cache-max-entries", "0"];

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

/// The records of iteration `i`'s sync: ids, names and prices unique to it.
fn products(iteration: u64) -> Vec<Value> {
    (1..=PER_SYNC)
        .map(|n| {
            json!({
                "id": format!("SYNC-{iteration:04}-{n:02}"), "sku": format!("S-{iteration}-{n}"),
                "name": format!("crash sync {iteration}/{n}"), "description": "crash test",
                "categoryId": "G100", "price": { "amountMinor": (iteration * 100 + n) as i64, "currency": "EUR" },
                "stock": 1, "unit": "Stk", "active": true, "modifiedAt": "2026-01-01T00:00:00Z",
            })
        })
        .collect()
}

/// What the client was told, and how often it was told it.
#[derive(Default)]
struct Acked {
    publishes: Vec<(String, String)>, // (name, sha256)
    binds: BTreeMap<String, u64>,     // tenant → productCount of the newest acknowledged bind
    bind_acks: u64,
    syncs: Vec<u64>, // iterations whose sync was acknowledged
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

/// Checks a pin (`{plugin, version, sha256}`) names a published version
/// with that digest.
async fn check_pin(c: &reqwest::Client, base: &str, pin: &Value) {
    let path =
        format!("/admin/v1/plugins/{}/versions/{}", pin["plugin"].as_str().unwrap(), pin["version"].as_str().unwrap());
    let (st, v) = admin(c, base, reqwest::Method::GET, &path, None).await;
    assert_eq!(st, 200, "pin {pin}");
    assert_eq!(v["sha256"], pin["sha256"], "pin {pin}");
}

/// Checks a restarted host against what the client saw acknowledged
/// before the kill.
async fn check_restarted(s: &Served, dir: &std::path::Path, acked: &Acked, erp_key: &str, c: &reqwest::Client) {
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
    // Acknowledged binds, tenant by tenant from the client's own record: the
    // tenant is there, bound, at the acknowledged binding or a newer one.
    for (tenant, &count) in &acked.binds {
        let (st, t) = admin(c, base, reqwest::Method::GET, &format!("/admin/v1/tenants/{tenant}"), None).await;
        assert_eq!(st, 200, "tenant {tenant} (bind acknowledged with productCount {count}) is gone: {t}");
        let b = &t["binding"];
        assert!(b.is_object(), "tenant {tenant} lost its acknowledged binding: {t}");
        let have: u64 = b["config"]["productCount"].as_str().unwrap().parse().unwrap();
        assert!(have >= count, "{tenant}: binding went back from productCount {count} to {have}");
        assert_eq!(b["pins"]["erp"]["plugin"], "mock-erp", "{tenant}: {b}");
    }
    // The bridge tenant's bind, acknowledged before the first kill.
    let (st, t) = admin(c, base, reqwest::Method::GET, &format!("/admin/v1/tenants/{ERP_TENANT}"), None).await;
    assert_eq!(st, 200, "tenant {ERP_TENANT} (bind acknowledged before the first kill) is gone: {t}");
    assert_eq!(
        t["binding"]["pins"]["erp"]["plugin"], "enventa-bridge",
        "{ERP_TENANT} lost its acknowledged binding: {t}"
    );
    // And whatever the host lists: every pin names a published version.
    let (_, tenants) = admin(c, base, reqwest::Method::GET, "/admin/v1/tenants", None).await;
    for t in tenants["tenants"].as_array().unwrap() {
        if let Some(b) = t.get("binding").filter(|b| !b.is_null()) {
            for (_, pin) in b["pins"].as_object().unwrap() {
                check_pin(c, base, pin).await;
            }
        }
    }
    // Acknowledged syncs, every one, where the ERP holds them: read back
    // from the simulator through the restarted host and the bridge.
    let body = c
        .get(format!("{base}/api/v1/tenants/{ERP_TENANT}/erp/products/stream?nameContains=crash%20sync"))
        .bearer_auth(erp_key)
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), 200);
    let text = body.text().await.unwrap();
    let held: BTreeMap<String, Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .inspect(|r| assert!(r.get("error").is_none(), "stream error: {r}"))
        .map(|r| (r["id"].as_str().unwrap().to_string(), r))
        .collect();
    for &i in &acked.syncs {
        for p in products(i) {
            let id = p["id"].as_str().unwrap();
            let r = held.get(id).unwrap_or_else(|| panic!("acknowledged sync {i}: {id} is not in the ERP"));
            assert_eq!((&r["name"], &r["price"]["amountMinor"]), (&p["name"], &p["price"]["amountMinor"]), "{id}");
        }
    }
    // The host's delta state knows every acknowledged sync too: all of them
    // resent in one request change nothing (and send nothing to the ERP).
    if !acked.syncs.is_empty() {
        let all: Vec<Value> = acked.syncs.iter().flat_map(|&i| products(i)).collect();
        let r: Value = c
            .post(format!("{base}/api/v1/tenants/{ERP_TENANT}/erp/sync/products"))
            .bearer_auth(erp_key)
            .json(&all)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let n = all.len() as u64;
        assert_eq!(
            (r["received"].as_u64(), r["unchanged"].as_u64(), r["failed"].as_u64()),
            (Some(n), Some(n), Some(0)),
            "resending {} acknowledged syncs: {r}",
            acked.syncs.len()
        );
    }
}

/// Publishes the bridge and binds [`ERP_TENANT`] to it with a socket grant
/// to the simulator; returns the tenant's API key. Done once, before the
/// first kill, and acknowledged.
async fn bind_bridge(c: &reqwest::Client, base: &str, sim: &Sim) -> String {
    let bytes = std::fs::read(b2c_host::bundled::ENVENTA_BRIDGE_PATH).unwrap();
    let r = publish_request(c, base, "enventa-bridge", bytes).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let pin = json!({ "plugin": "enventa-bridge", "version": "^1" });
    let body = json!({
        "erp": pin, "config": { "enventaUser": "b2c", "syncBatchSize": 1000 }, "socket": sim.addr.to_string(),
    });
    let (st, b) = admin(c, base, reqwest::Method::PUT, &format!("/admin/v1/tenants/{ERP_TENANT}"), Some(body)).await;
    assert_eq!(st, 200, "{b}");
    let (st, k) =
        admin(c, base, reqwest::Method::POST, &format!("/admin/v1/tenants/{ERP_TENANT}/api-keys"), None).await;
    assert_eq!(st, 201, "{k}");
    k["key"].as_str().unwrap().to_string()
}

#[test]
fn sigkill_during_publish_bind_and_sync_loses_nothing_acknowledged() {
    let iterations: u64 = std::env::var("B2C_CRASH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();
    // The ERP: lives in this process, so it survives every kill of the host.
    let sim = rt
        .block_on(Sim::start(SimConfig { articles: 10, customers: 10, ..Default::default() }))
        .expect("simulator starts");
    let erp_key = {
        let served = serve_with(dir.path(), FLAGS, None);
        rt.block_on(bind_bridge(&c, &served.base, &sim))
    };
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut seed: u64 = 0x00C0_FFEE;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut kills_mid_flight, started) = (0u64, std::time::Instant::now());
    for i in 0..iterations {
        let mut served = serve_with(dir.path(), FLAGS, None);
        rt.block_on(check_restarted(&served, dir.path(), &acked.lock().unwrap(), &erp_key, &c));
        let base = served.base.clone();
        // New bytes (a compile, then the artifact write and row) or bytes
        // already stored (straight to the row): both windows get hit.
        let bytes = variant(if rand(2) == 0 { i } else { i.saturating_sub(1) });
        let digest = sha(&bytes);
        let ops = {
            let (c, acked, base, erp_key) = (c.clone(), acked.clone(), base.clone(), erp_key.clone());
            rt.spawn(async move {
                let publish = async {
                    let name = format!("crash-{i}");
                    let r = publish_request(&c, &base, &name, bytes).send().await;
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
                        let mut a = acked.lock().unwrap();
                        a.binds.insert(tenant, count);
                        a.bind_acks += 1;
                    }
                };
                let sync = async {
                    let r = c
                        .post(format!("{base}/api/v1/tenants/{ERP_TENANT}/erp/sync/products"))
                        .bearer_auth(&erp_key)
                        .json(&products(i))
                        .send()
                        .await;
                    if let Ok(r) = r
                        && r.status().as_u16() == 200
                        && let Ok(v) = r.json::<Value>().await
                    {
                        // Acknowledged means the ERP took every record.
                        assert_eq!(v["created"], PER_SYNC, "sync {i}: {v}");
                        acked.lock().unwrap().syncs.push(i);
                    }
                };
                tokio::join!(publish, bind, sync);
            })
        };
        if i % 4 == 3 {
            // Kill right after the acknowledgments.
            while !ops.is_finished() {
                std::thread::sleep(Duration::from_millis(1));
            }
        } else {
            std::thread::sleep(Duration::from_millis(rand(250)));
        }
        if !ops.is_finished() {
            kills_mid_flight += 1;
        }
        served.signal("KILL");
        assert!(served.wait_exit(Duration::from_secs(10)).is_some(), "SIGKILL ends the host");
        rt.block_on(ops).expect("operations task");
        check_on_disk(dir.path());
    }
    // A final restart checks the last kill.
    let served = serve_with(dir.path(), FLAGS, None);
    rt.block_on(check_restarted(&served, dir.path(), &acked.lock().unwrap(), &erp_key, &c));
    let a = acked.lock().unwrap();
    let violations = sim.stats().json()["violations"]["total"].as_u64().unwrap();
    eprintln!(
        "crash loop: {iterations} SIGKILLs ({kills_mid_flight} with operations in flight) in {:?}; acknowledged: \
         {} publishes, {} binds ({} tenants), {} syncs ({} records in the ERP) — all intact; simulator: {}",
        started.elapsed(),
        a.publishes.len(),
        a.bind_acks,
        a.binds.len(),
        a.syncs.len(),
        a.syncs.len() as u64 * PER_SYNC,
        sim.stats().json()
    );
    assert!(kills_mid_flight > 0, "no kill landed mid-flight");
    // Every check above is vacuous without acknowledged writes of each
    // kind. A quarter of the iterations wait for the answers, so each kind
    // is acknowledged at least that often (publishes of new bytes compile
    // in the sandbox first and are the slowest to be answered).
    let floor = iterations / 5;
    assert!(a.publishes.len() as u64 >= floor, "{} publishes acknowledged, floor {floor}", a.publishes.len());
    assert!(a.bind_acks >= floor, "{} binds acknowledged, floor {floor}", a.bind_acks);
    assert!(a.syncs.len() as u64 >= floor, "{} syncs acknowledged, floor {floor}", a.syncs.len());
    assert_eq!(violations, 0, "the bridge broke an enventa rule across the crashes: {}", sim.stats().json());
}
