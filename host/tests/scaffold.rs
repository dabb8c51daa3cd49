//! `b2c-host plugin new` as an author uses it: scaffold a crate, build it
//! for wasm32-wasip2, run its own tests natively, publish it to a served
//! host, bind a tenant and get the first REST answers; then build it with
//! `cargo component build` too and check that build with `plugin check`. Prints how long the
//! whole path took (the "≤ 2 min after toolchain set-up" is read
//! from this line in CI's log, not asserted: the machine is shared).

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// `cargo` for the scaffolded crate, without the outer build's settings
/// (as host/build.rs does for the guest plugins). Its target dir sits in
/// this workspace's target/ so CI pays the SDK's dependencies once.
fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold"));
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    cmd.output().expect("cargo runs")
}

#[test]
fn plugin_new_builds_tests_publishes_and_answers() {
    let t0 = Instant::now();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("acme-shop");
    let out = Command::new(BIN)
        .args(["plugin", "new", "acme-shop", "--kinds", "pim,erp", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("created") && said.contains("erp+pim"), "{said}");
    // Refusals: an existing directory (nothing touched) and a bad name.
    let again = Command::new(BIN).args(["plugin", "new", "acme-shop", "--dir"]).arg(&dir).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let bad = Command::new(BIN).args(["plugin", "new", "Acme_Shop"]).current_dir(work.path()).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 1, "no crate for the bad name, no temp dir");

    let built = cargo(&dir, &["build", "--release", "--target", "wasm32-wasip2"]);
    assert!(built.status.success(), "build: {}", String::from_utf8_lossy(&built.stderr));
    let tested = cargo(&dir, &["test"]);
    let log = String::from_utf8_lossy(&tested.stdout);
    assert!(tested.status.success(), "cargo test: {log}{}", String::from_utf8_lossy(&tested.stderr));
    assert!(log.contains("test result: ok. 3 passed"), "its three fake-host tests ran: {log}");
    let wasm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold/wasm32-wasip2/release/acme_shop.wasm");

    let data = tempfile::tempdir().unwrap();
    let served = serve(data.path());
    let cli = |args: &[&str]| {
        let out =
            Command::new(BIN).args(args).env("B2C_URL", &served.base).env("B2C_ADMIN_TOKEN", ADMIN).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let shown =
        cli(&["plugin", "publish", wasm.to_str().unwrap(), "--name", "acme-shop", "--version", "0.1.0", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["exports"], serde_json::json!(["erp", "pim"]), "exactly the kinds asked for");
    cli(&[
        "tenant",
        "bind",
        "acme",
        "--erp",
        "acme-shop@^0.1",
        "--pim",
        "acme-shop@^0.1",
        "--config",
        "productCount=4",
    ]);
    let key: serde_json::Value = serde_json::from_str(&cli(&["tenant", "create-key", "acme", "-o", "json"])).unwrap();
    let key = key["key"].as_str().unwrap().to_string();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let get = |path: &str| {
        let url = format!("{}/api/v1/tenants/acme/{path}", served.base);
        rt.block_on(async {
            let r = reqwest::Client::new().get(&url).bearer_auth(&key).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };
    let (status, body) = get("erp/products/P3");
    let elapsed = t0.elapsed();
    assert_eq!(status, 200, "{body}");
    let p: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((p["sku"].as_str(), p["price"]["amountMinor"].as_i64()), (Some("SKU-3"), Some(300)));
    // cargo test hides a passing test's output: the figure goes to a file
    // that .ci/run prints at the end.
    let figure = format!("plugin new -> build -> publish -> first REST answer: {:.1} s\n", elapsed.as_secs_f64());
    print!("{figure}");
    let figures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/figures");
    std::fs::create_dir_all(&figures).unwrap();
    std::fs::write(figures.join("plugin-new.txt"), figure).unwrap();

    let (status, body) = get("pim/products/P2");
    assert_eq!(status, 200, "{body}");
    let d: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(d["longDescription"], "All about Product 2");
    let (status, _) = get("erp/products/P5");
    assert_eq!(status, 404, "productCount=4 reached the plugin");
    let (status, body) = get("crm/contacts/K1");
    assert_eq!(status, 404, "no CRM binding: {body}");

    // The other build an author may use: `cargo component build` (a
    // wasm32-wasip1 module wrapped into a component by cargo-component).
    let Some(cargo_component) = cargo_component() else { return };
    let mut cmd = Command::new(cargo_component);
    cmd.args(["component", "build", "--release"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold"));
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        cmd.env_remove(var);
    }
    let built = cmd.output().unwrap();
    assert!(built.status.success(), "cargo component build: {}", String::from_utf8_lossy(&built.stderr));
    let wasm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold/wasm32-wasip1/release/acme_shop.wasm");
    let out = Command::new(BIN)
        .args(["plugin", "check"])
        .arg(&wasm)
        .args(["--config", "productCount=4", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcome = |rule: &str| {
        let r = rows.as_array().unwrap().iter().find(|r| r["rule"] == rule).unwrap_or_else(|| panic!("{rule}: {rows}"));
        (r["outcome"].as_str().unwrap().to_string(), r["detail"].as_str().unwrap().to_string())
    };
    assert_eq!(
        outcome("erp.products.stream-ends"),
        ("pass".into(), "4 records in pulls of at most 7, then the end".into())
    );
    assert_eq!(outcome("pim.details.unknown-not-found").0, "pass", "{rows}");
    let exports: Vec<&str> =
        rows.as_array().unwrap().iter().filter_map(|r| r["rule"].as_str()?.split('.').next()).collect();
    assert!(exports.contains(&"erp") && exports.contains(&"pim") && !exports.contains(&"crm"), "{exports:?}");
}

/// cargo-component, if this machine has it: `B2C_CARGO_COMPONENT` (the
/// binary; `.ci/run` installs a pinned one and sets it) or `cargo-component`
/// on PATH. Missing, the `cargo component` half is skipped with a note,
/// unless `B2C_REQUIRE_CARGO_COMPONENT=1` (CI) makes that a failure.
fn cargo_component() -> Option<std::path::PathBuf> {
    let candidate = std::env::var_os("B2C_CARGO_COMPONENT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "cargo-component".into());
    let found = Command::new(&candidate).arg("--version").output().is_ok_and(|o| o.status.success());
    if found {
        return Some(candidate);
    }
    assert!(
        std::env::var("B2C_REQUIRE_CARGO_COMPONENT").as_deref() != Ok("1"),
        "B2C_REQUIRE_CARGO_COMPONENT=1 but {} does not run",
        candidate.display()
    );
    eprintln!("NOTE: cargo-component not found; the `cargo component build` half of this test is skipped");
    None
}
