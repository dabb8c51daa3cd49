//! The real binary under an address-space limit (`prlimit --as`, 2 GiB)
//! survives every attack of the `attacker` TEST FIXTURE (a plugin written
//! from `wit/` alone), keeps serving a well-behaved tenant, stays under a
//! stated peak RSS, and writes plugin log records that cannot forge host
//! log lines or reach a terminal as escape sequences.

mod common;

use common::{publish_request, serve_wrapped};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};

const AS_LIMIT: u64 = 2 << 30;
/// Peak resident memory the host may reach during all the attacks.
const RSS_BOUND: u64 = 1 << 30;

fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn every_attack_is_survived_under_a_2_gib_address_space_limit() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let demo = "b2c_prlimit_demo_key_0123456789abcdef";
    let as_limit = format!("--as={AS_LIMIT}");
    let mut served = serve_wrapped(
        // glibc reserves 64 MiB of address space per malloc arena (up to 8
        // per core); two arenas keep that part of the budget small.
        &["env", "MALLOC_ARENA_MAX=2", "RUST_LOG=info", "prlimit", &as_limit],
        &dir.path().join("data"),
        &[
            // 4 instances of 128 MiB, no 4 GiB reservations: ~1.2 GiB of
            // address space at start.
            "--lean-address-space",
            "--max-instances",
            "4",
            "--instance-memory-mib",
            "128",
            "--call-timeout-ms",
            "3000",
            "--cpu-budget-ms",
            "500",
        ],
        Some(demo),
        Stdio::from(log),
    );
    let pid = served.child.id();
    let base = served.base.clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();

    let call = |method: reqwest::Method, path: String, key: String, body: Option<Value>| {
        let c = c.clone();
        let url = format!("{base}{path}");
        async move {
            let mut r = c.request(method, url).bearer_auth(key).timeout(Duration::from_secs(30));
            if let Some(b) = body {
                r = r.json(&b);
            }
            match r.send().await {
                Ok(r) => {
                    let s = r.status().as_u16();
                    let b = r.bytes().await.map(|b| b.len()).unwrap_or(0);
                    (s, b)
                }
                Err(e) => panic!("the host did not answer: {e}"),
            }
        }
    };

    rt.block_on(async {
        let wasm = std::fs::read(b2c_host::bundled::ATTACKER_PATH).unwrap();
        let r = publish_request(&c, &base, "attacker", wasm).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

        let attacks: &[(&str, Value, &str, &str, Option<Value>)] = &[
            ("huge-strings", json!({}), "GET", "/erp/products/A1", None),
            ("huge-strings", json!({"size-mib": "8"}), "GET", "/erp/products/A1", None),
            ("alias-strings", json!({}), "POST", "/erp/products/batch-get", Some(json!({"ids": (1..=1000).map(|i| format!("A{i}")).collect::<Vec<_>>()}))),
            ("stream-flood", json!({"count": "5000"}), "GET", "/erp/products/stream", None),
            ("start-sleep", json!({}), "GET", "/erp/products/A1", None),
            ("start-loop", json!({}), "GET", "/erp/products/A1", None),
            // Before the flood: the tenant's log budget outlives rebinds.
            ("log-forge", json!({}), "GET", "/erp/products/A1", None),
            ("log-flood", json!({"count": "20000"}), "GET", "/erp/products/A1", None),
            ("huge-error", json!({}), "GET", "/erp/products/A1", None),
            ("huge-error", json!({"size-mib": "8"}), "GET", "/erp/products/A1", None),
            ("wrong-ids", json!({}), "POST", "/erp/products/batch-get", Some(json!({"ids": ["A1", "A2"]}))),
            ("over-limit", json!({}), "GET", "/pim/categories", None),
            ("bad-counts", json!({}), "POST", "/erp/orders/batch", Some(json!([{"customerId": "A1", "lines": [{"productId": "A1", "quantity": 1}]}]))),
            ("huge-order", json!({"size-mib": "1"}), "POST", "/erp/orders", Some(json!({"customerId": "A1", "lines": [{"productId": "A1", "quantity": 1}]}))),
            ("random-burn", json!({}), "GET", "/erp/products/A1", None),
        ];
        // One attacking tenant, rebound for each attack: the pool has room
        // for 4 instances, and a rebind frees the previous one.
        let tenant = "atk";
        let mut key = String::new();
        for (attack, config, method, route, body) in attacks {
            let mut config = config.clone();
            config["attack"] = json!(attack);
            let pin = json!({"plugin": "attacker", "version": "^1"});
            let (s, _) = common::admin(
                &c,
                &base,
                reqwest::Method::PUT,
                &format!("/admin/v1/tenants/{tenant}"),
                Some(json!({"erp": pin, "crm": pin, "pim": pin, "config": config})),
            )
            .await;
            assert_eq!(s, 200, "bind {tenant} for {attack}");
            if key.is_empty() {
                let (s, k) =
                    common::admin(&c, &base, reqwest::Method::POST, &format!("/admin/v1/tenants/{tenant}/api-keys"), None)
                        .await;
                assert_eq!(s, 201, "key for {tenant}: {k}");
                key = k["key"].as_str().unwrap().to_string();
            }
            let t = Instant::now();
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let (status, bytes) = call(method, format!("/api/v1/tenants/{tenant}{route}"), key.clone(), body.clone()).await;
            // The good tenant is served after every attack.
            let (good, _) =
                call(reqwest::Method::GET, "/api/v1/tenants/demo/erp/products/P00000001".into(), demo.into(), None).await;
            eprintln!(
                "{attack:>14} {config}: {status} ({bytes} bytes) after {:?}; neighbour {good}; RSS {} MiB (peak {} MiB)",
                t.elapsed(),
                status_kib(pid, "VmRSS:") >> 10,
                status_kib(pid, "VmHWM:") >> 10
            );
            assert_eq!(good, 200, "the neighbour after {attack}");
            assert!(status != 0 && status != 500, "{attack}: {status}");
            assert!(served.child.try_wait().unwrap().is_none(), "the host died during {attack}");
        }
    });
    let peak = status_kib(pid, "VmHWM:") << 10;
    assert!(served.child.try_wait().unwrap().is_none(), "the host is alive");
    drop(served);
    eprintln!("peak RSS of the host: {} MiB (bound {} MiB)", peak >> 20, RSS_BOUND >> 20);
    assert!(peak < RSS_BOUND, "peak RSS {} MiB", peak >> 20);

    // Plugin log records are one line each, escaped: the forged lines and
    // escape sequences of `log-forge` appear only inside a plugin record.
    let text = std::fs::read(&log_path).unwrap();
    assert!(!text.contains(&0x1b), "an escape byte reached the host's log");
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("admin token is b2cadm_forged"), "the forged record was logged (escaped)");
    if let Some(l) = text.lines().find(|l| l.contains("b2cadm_forged")) {
        eprintln!("a forged record as logged: {l}");
    }
    for line in text.lines() {
        if line.contains("b2cadm_forged") {
            assert!(line.contains("plugin"), "a forged record outside a plugin line: {line}");
            assert!(!line.starts_with("2026-11-28T05:00:00"), "a forged line: {line}");
        }
    }
}
