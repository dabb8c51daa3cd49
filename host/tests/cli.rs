//! The binary end to end, as an operator and a first-time user run it:
//! `b2c-host serve` on an empty data dir prints a working curl line, and the
//! operator CLI publishes, binds and issues keys against the running host.

mod common;

use common::{ADMIN, BIN, serve};
use std::process::Command;

fn cli(url: &str, args: &[&str]) -> (bool, String, String) {
    let out =
        Command::new(BIN).args(args).env("B2C_URL", url).env("B2C_ADMIN_TOKEN", ADMIN).output().expect("cli runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn serve_prints_a_working_curl_line_and_the_operator_cli_works() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let curl = served.lines.iter().find(|l| l.starts_with("try: curl")).unwrap();
    // try: curl -H 'Authorization: Bearer KEY' http://ADDR/api/v1/...
    let key = curl.split("Bearer ").nth(1).unwrap().split('\'').next().unwrap().to_string();
    let url = curl.split_whitespace().last().unwrap().to_string();
    let base = url.split("/api/").next().unwrap().to_string();
    assert!(served.lines.iter().any(|l| l.contains("published mock-erp 1.0.0")), "{:?}", served.lines);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let product: serde_json::Value = rt.block_on(async {
        reqwest::Client::new().get(&url).bearer_auth(&key).send().await.unwrap().json().await.unwrap()
    });
    assert_eq!(product["id"], "P00000001");
    assert_eq!(product["price"]["currency"], "EUR");

    // The operator path of the README.
    let wasm = b2c_host::bundled::ENVENTA_BRIDGE_PATH;
    let (ok, _, err) = cli(&base, &["plugin", "publish", wasm, "--name", "cli-erp", "--version", "0.1.0"]);
    assert!(ok, "{err}");
    assert!(err.contains("published"));
    let (ok, _, err) = cli(&base, &["plugin", "publish", wasm, "--name", "cli-erp", "--version", "0.1.0"]);
    assert!(ok && err.contains("already published"), "{err}");
    let (ok, _, err) = cli(&base, &["plugin", "publish", "/dev/null", "--name", "cli-erp", "--version", "0.2.0"]);
    assert!(!ok && err.contains("422") && err.contains("empty"), "{err}");
    let (ok, out, err) = cli(&base, &["plugin", "show", "cli-erp", "0.1.0"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["exports"], serde_json::json!(["erp", "crm", "pim"]));
    let (ok, out, err) =
        cli(&base, &["tenant", "bind", "cli-tenant", "--erp", "mock-erp@^1", "--config", "productCount=5"]);
    assert!(ok, "{err}");
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(t["binding"]["pins"]["erp"]["version"], "1.0.0");
    let (ok, out, err) = cli(&base, &["tenant", "create-key", "cli-tenant", "--label", "ci"]);
    assert!(ok, "{err}");
    let k: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tenant_key = k["key"].as_str().unwrap().to_string();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{base}/api/v1/tenants/cli-tenant/erp/products/P00000006"))
            .bearer_auth(&tenant_key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 404, "productCount=5 reached the plugin");
    let (ok, out, _) = cli(&base, &["audit", "--limit", "3"]);
    assert!(ok && out.contains("api-key.create") && out.contains("bind"), "{out}");
    let (ok, _, err) = cli(&base, &["tenant", "bind", "x", "--erp", "@"]);
    assert!(!ok && err.contains("PLUGIN@REQUIREMENT"), "{err}");
    // Wrong token: a clear error, not a crash.
    let out = Command::new(BIN)
        .args(["plugin", "list"])
        .env("B2C_URL", &base)
        .env("B2C_ADMIN_TOKEN", "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["plugin", "publish", "--help"],
        vec!["plugin", "yank", "--help"],
        vec!["tenant", "bind", "--help"],
        vec!["tenant", "create-key", "--help"],
        vec!["audit", "--help"],
        vec!["openapi", "--help"],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"), "{args:?}");
    }
    let out = Command::new(BIN).args(["serve", "--queue-capacity", "0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("queue-capacity"));
}
