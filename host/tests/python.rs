//! A provider written in Python from the contract alone
//! (`examples/python-erp`, built with componentize-py): `plugin check`
//! passes it, a served host publishes and binds it and answers REST with
//! its values, its `print()` reaches the host's log, and a bad setting is
//! a 422 naming the key. Writes `target/figures/python-publish.txt`
//! (component size, publish time on a cold compile cache, one plain
//! compile); the timings are not asserted, the machine is shared.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first stderr line of the served host that satisfies `pred`, within 30 s.
fn wait_line(rx: &Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if pred(&l) => return l,
            Ok(_) => {}
            Err(_) => panic!("no log line with {what} within 30 s"),
        }
    }
}

/// `ms=N` of a `component ready` log line.
fn ready_ms(line: &str) -> u64 {
    let at = line.find(" ms=").unwrap_or_else(|| panic!("no ms= in {line}")) + 4;
    line[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

#[test]
fn python_provider_checks_publishes_and_answers() {
    // 1. Build with the example's own script, as an author would.
    let out_dir = repo().join("target/python-erp");
    std::fs::create_dir_all(&out_dir).unwrap();
    let wasm = out_dir.join("python_erp.wasm");
    let _ = std::fs::remove_file(&wasm);
    let t = Instant::now();
    let built = Command::new("bash").arg(repo().join("examples/python-erp/build.sh")).arg(&wasm).output().unwrap();
    let build_s = t.elapsed().as_secs_f64();
    assert!(built.status.success(), "build.sh: {}", String::from_utf8_lossy(&built.stderr));
    let bytes = std::fs::read(&wasm).expect("build.sh wrote the component");

    // 2. `plugin check`: every read rule passes on 50 products; its log
    // line `component ready … ms=` is one plain compile (no cache).
    let checked = Command::new(BIN)
        .args(["plugin", "check"])
        .arg(&wasm)
        .args(["--config", "productCount=50", "-o", "json"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(0), "plugin check: {log}");
    let rules: Vec<Value> = serde_json::from_slice(&checked.stdout).unwrap();
    let rule = |name: &str| -> &Value {
        rules.iter().find(|r| r["rule"] == name).unwrap_or_else(|| panic!("rule {name} in {rules:#?}"))
    };
    assert!(rules.iter().all(|r| r["outcome"] != "fail"), "no rule failed: {rules:#?}");
    for (name, outcome, detail) in [
        ("erp.products.unknown-not-found", "pass", "not-found"),
        ("erp.products.stream-ends", "pass", "50 records"),
        ("erp.products.batch-order", "pass", "P50"),
        ("erp.products.stream-equals-get", "pass", "equal their single get"),
        ("erp.products.stream-filter", "pass", "passing the filter"),
        ("erp.customers.stream-ends", "pass", "10 records"),
        ("erp.customers.batch-order", "pass", "C10"),
        ("erp.sync-twice-changes-nothing", "skip", "writes are off"),
    ] {
        let r = rule(name);
        assert_eq!(r["outcome"], outcome, "{r}");
        assert!(r["detail"].as_str().unwrap().contains(detail), "{r}");
    }
    let compile_line = log
        .lines()
        .find(|l| l.contains("component ready") && l.contains("cached=false"))
        .unwrap_or_else(|| panic!("a `component ready … cached=false` line in {log}"));
    let compile_ms = ready_ms(compile_line);
    assert!(log.contains("python-erp ready for tenant conformance: 50 products"), "the log import: {log}");

    // 3. A served host with a cold compile cache (fresh data dir, no demo).
    let data = tempfile::tempdir().unwrap();
    let (served, rx) = serve_logged(data.path(), &["--no-demo"], None, &[("RUST_LOG", "warn,plugin=info")]);
    let base = served.base.clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();
    use reqwest::Method;

    let t = Instant::now();
    let published = rt.block_on(async {
        let r = publish_request(&c, &base, "python-erp", bytes.clone()).send().await.unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    let publish_s = t.elapsed().as_secs_f64();
    assert_eq!(published.0, 201, "{}", published.1);
    assert_eq!(published.1["exports"], json!(["erp"]), "{}", published.1);
    assert_eq!(published.1["contractVersion"], "1.1.0");
    assert_eq!(published.1["size"], bytes.len());

    let bind = |tenant: &str, count: &str| {
        let body = json!({"erp": {"plugin": "python-erp", "version": "^1"}, "config": {"productCount": count}});
        let (s, v) = rt.block_on(admin(&c, &base, Method::PUT, &format!("/admin/v1/tenants/{tenant}"), Some(body)));
        assert!(s == 200 || s == 201, "bind {tenant}: {s} {v}");
        let (s, v) = rt.block_on(admin(&c, &base, Method::POST, &format!("/admin/v1/tenants/{tenant}/api-keys"), None));
        assert!(s == 200 || s == 201, "key {tenant}: {s} {v}");
        v["key"].as_str().unwrap().to_string()
    };
    let key = bind("shop", "50");
    let call = |key: &str, method: Method, path: &str, body: Option<Value>| -> (u16, String, String) {
        let url = format!("{base}/api/v1/tenants/{path}");
        rt.block_on(async {
            let mut r = c.request(method, &url).bearer_auth(key);
            if let Some(b) = body {
                r = r.json(&b);
            }
            let r = r.send().await.unwrap();
            let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            (r.status().as_u16(), ct, r.text().await.unwrap())
        })
    };
    let json_of = |s: &str| -> Value { serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}")) };

    // One product, all fields (the plugin's first call: a fresh instance).
    let t = Instant::now();
    let (s, _, body) = call(&key, Method::GET, "shop/erp/products/P7", None);
    let first_call_ms = t.elapsed().as_millis();
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        json_of(&body),
        json!({"id": "P7", "sku": "SKU-00007", "name": "Oak plank 7",
               "description": "Generated product 7 of the Python example ERP.",
               "categoryId": "CAT-03", "price": {"amountMinor": 799, "currency": "EUR"},
               "stock": 49, "unit": "pcs", "active": true, "modifiedAt": "2026-01-01T07:00:00Z"})
    );
    // Its print() and its log import both reach the host's log, with
    // tenant and plugin.
    let printed = wait_line(&rx, "the print() record", |l| l.contains("python-erp get-product P7: found"));
    assert!(printed.contains("stream=\"stdout\"") && printed.contains("INFO"), "{printed}");
    assert!(printed.contains("tenant=shop") && printed.contains("plugin=python-erp@1.0.0"), "{printed}");
    // (the `ready` record was written before the print, in the same call)

    // Unknown and one past productCount: 404 not-found.
    for id in ["nope", "P51", "P0"] {
        let (s, ct, body) = call(&key, Method::GET, &format!("shop/erp/products/{id}"), None);
        assert_eq!(s, 404, "{id}: {body}");
        assert!(ct.starts_with("application/problem+json"), "{ct}");
        assert_eq!(json_of(&body)["type"], "urn:b2connect:problem:not-found", "{body}");
    }
    let (s, _, _) = call(&key, Method::GET, "shop/erp/products/P50", None);
    assert_eq!(s, 200, "P50 is the last of 50");

    // Batch get: request order, found flags, counts.
    let ids = ["P3", "zz", "P50", "P51", "P1", "P3"];
    let (s, _, body) = call(&key, Method::POST, "shop/erp/products/batch-get", Some(json!({"ids": ids})));
    assert_eq!(s, 200, "{body}");
    let v = json_of(&body);
    let got: Vec<(&str, bool)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e["found"].as_bool().unwrap()))
        .collect();
    assert_eq!(got, [("P3", true), ("zz", false), ("P50", true), ("P51", false), ("P1", true), ("P3", true)]);
    assert_eq!((v["found"].as_u64(), v["missing"].as_u64()), (Some(4), Some(2)));
    assert_eq!(v["items"][2]["item"]["sku"], "SKU-00050");
    assert_eq!(v["items"][4]["item"]["price"]["amountMinor"], 199);

    // Streams: everything in small pulls, then a filtered one.
    let stream_ids = |query: &str| -> Vec<String> {
        let (s, ct, body) = call(&key, Method::GET, &format!("shop/erp/products/stream?{query}"), None);
        assert_eq!(s, 200, "{body}");
        assert!(ct.starts_with("application/x-ndjson"), "{ct}");
        body.lines().map(|l| json_of(l)["id"].as_str().unwrap_or_else(|| panic!("a record: {l}")).to_string()).collect()
    };
    let all = stream_ids("batchSize=7");
    assert_eq!(all, (1..=50).map(|i| format!("P{i}")).collect::<Vec<_>>());
    let filtered = stream_ids("categoryId=CAT-03&activeOnly=true&batchSize=3");
    assert_eq!(
        filtered,
        ["P2", "P7", "P17", "P22", "P27", "P37", "P42", "P47"],
        "CAT-03 without the inactive P12, P32"
    );
    let named = stream_ids("nameContains=COPPER&modifiedSince=2026-01-02T00:00:00Z");
    assert_eq!(named, ["P26", "P31", "P36", "P41", "P46"], "name case-insensitive, changed at or after the time");

    // Customers too.
    let (s, _, body) = call(&key, Method::GET, "shop/erp/customers/C2", None);
    assert_eq!(s, 200, "{body}");
    let v = json_of(&body);
    assert_eq!((v["number"].as_str(), v["address"]["country"].as_str()), (Some("K-000002"), Some("CH")));
    let (s, _, body) = call(&key, Method::GET, "shop/erp/customers/stream?country=AT", None);
    assert_eq!(s, 200, "{body}");
    let at: Vec<String> = body.lines().map(|l| json_of(l)["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(at, ["C1", "C4", "C7", "C10"]);

    // Writes: 501 unsupported, naming the operation.
    let order = json!({"customerId": "C1", "lines": [{"productId": "P1", "quantity": 1}]});
    let (s, _, body) = call(&key, Method::POST, "shop/erp/orders", Some(order));
    assert_eq!(s, 501, "{body}");
    let v = json_of(&body);
    assert_eq!(v["type"], "urn:b2connect:problem:unsupported", "{body}");
    assert!(v["detail"].as_str().unwrap().contains("create-order"), "{body}");

    // A productCount that does not parse: the app's Lifecycle.init (contract
    // 1.1) refuses it, so the bind is 422 naming the key, and nothing is
    // bound.
    let body = json!({"erp": {"plugin": "python-erp", "version": "^1"}, "config": {"productCount": "lots"}});
    let (s, v) = rt.block_on(admin(&c, &base, Method::PUT, "/admin/v1/tenants/bad", Some(body)));
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["type"], "urn:b2connect:problem:invalid-input", "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(detail.contains("invalid-input: setting productCount") && detail.contains("'lots'"), "{detail}");
    let (s, v) = rt.block_on(admin(&c, &base, Method::GET, "/admin/v1/tenants/bad", None));
    assert!(s == 404 || v["binding"].is_null(), "a refused bind left {s} {v}");
    drop(served);

    // Figures, not asserted.
    let figure = format!(
        "python-erp (componentize-py 0.25.1): component {:.1} MB ({} bytes)\n\
         publish on a host with a cold compile cache: {publish_s:.1} s\n\
         one plain compile of the same component (plugin check, `component ready … cached=false`): {:.1} s\n\
         publish / one compile: {:.2}x (target: <= 1.2x; publish compiles once, in the sandbox child)\n\
         first REST call (instance warmed by the bind; data built in this call): {first_call_ms} ms; build.sh (venv cached or not): {build_s:.1} s\n",
        bytes.len() as f64 / 1e6,
        bytes.len(),
        compile_ms as f64 / 1000.0,
        publish_s / (compile_ms as f64 / 1000.0),
    );
    print!("{figure}");
    let figures = repo().join("target/figures");
    std::fs::create_dir_all(&figures).unwrap();
    std::fs::write(figures.join("python-publish.txt"), figure).unwrap();
}
