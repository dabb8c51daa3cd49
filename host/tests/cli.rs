//! The binary end to end, as an operator and a first-time user run it:
//! `b2c-host serve` on an empty data dir prints a working curl line, and the
//! operator CLI publishes, binds and issues keys against the running host.

mod common;

use common::{ADMIN, BIN, serve};
use std::process::Command;

fn cli(url: &str, args: &[&str]) -> (bool, String, String) {
    let (code, out, err) = cli_code(url, args);
    (code == 0, out, err)
}

/// Runs the CLI; (exit code, stdout, stderr).
fn cli_code(url: &str, args: &[&str]) -> (i32, String, String) {
    let out =
        Command::new(BIN).args(args).env("B2C_URL", url).env("B2C_ADMIN_TOKEN", ADMIN).output().expect("cli runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The rows of the table whose header starts with `first` (up to the next
/// blank line), each split on whitespace; the header itself is checked
/// to be exactly `header`.
fn table(out: &str, header: &[&str]) -> Vec<Vec<String>> {
    let mut lines = out.lines().skip_while(|l| l.split_whitespace().next() != Some(header[0]));
    let head: Vec<&str> =
        lines.next().unwrap_or_else(|| panic!("no {header:?} table in:\n{out}")).split_whitespace().collect();
    assert_eq!(head, header, "{out}");
    lines.take_while(|l| !l.trim().is_empty()).map(|l| l.split_whitespace().map(str::to_string).collect()).collect()
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
    // Stages, in order: upload, then the host's check and compile.
    let stages: Vec<usize> =
        ["uploading ", "uploaded ", "checking and compiling", "published: checked, compiled and stored"]
            .iter()
            .map(|s| err.find(s).unwrap_or_else(|| panic!("{s:?} missing from:\n{err}")))
            .collect();
    assert!(stages.windows(2).all(|w| w[0] < w[1]), "{err}");
    let (ok, _, err) = cli(&base, &["plugin", "publish", wasm, "--name", "cli-erp", "--version", "0.1.0"]);
    assert!(ok && err.contains("already published"), "{err}");
    let (ok, _, err) = cli(&base, &["plugin", "publish", "/dev/null", "--name", "cli-erp", "--version", "0.2.0"]);
    assert!(!ok && err.contains("422") && err.contains("empty"), "{err}");
    let copy = dir.path().join("copy.wasm");
    let (ok, _, err) = cli(&base, &["plugin", "download", "cli-erp", "0.1.0", "--file", copy.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(wasm).unwrap(), "the download is the published bytes");
    let (ok, out, err) = cli(&base, &["plugin", "show", "cli-erp", "0.1.0", "-o", "json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["exports"], serde_json::json!(["erp", "crm", "pim"]));
    let (ok, out, err) = cli(
        &base,
        &["tenant", "bind", "cli-tenant", "--erp", "mock-erp@^1", "--config", "productCount=5", "-o", "json"],
    );
    assert!(ok, "{err}");
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(t["binding"]["pins"]["erp"]["version"], "1.0.0");
    let (ok, out, err) = cli(&base, &["tenant", "create-key", "cli-tenant", "--label", "ci", "-o", "json"]);
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
    let (ok, out, _) = cli(&base, &["audit", "--limit", "3", "-o", "json"]);
    assert!(ok && out.contains("api-key.create") && out.contains("bind"), "{out}");
    let (code, _, err) = cli_code(&base, &["tenant", "bind", "x", "--erp", "@"]);
    assert!(code == 2 && err.contains("PLUGIN@REQUIREMENT"), "{code} {err}");

    tables_for_people_json_and_yaml_for_scripts(&base);
    changes_in_both_modes(&base);
    exit_codes_scripts_can_rely_on(&base);
    // Wrong token: a clear error, not a crash.
    let out = Command::new(BIN)
        .args(["plugin", "list"])
        .env("B2C_URL", &base)
        .env("B2C_ADMIN_TOKEN", "wrong")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a refused request");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: 401 unauthorized: ") && err.lines().count() == 1, "{err}");
}

/// Every read command in the three output modes, against the host the
/// test above set up (`cli-erp` 0.1.0 published, `cli-tenant` bound to
/// mock-erp with productCount=5 and one request served).
fn tables_for_people_json_and_yaml_for_scripts(base: &str) {
    // plugin list
    let (ok, out, err) = cli(base, &["plugin", "list"]);
    assert!(ok, "{err}");
    let rows = table(&out, &["NAME", "LATEST", "VERSIONS", "YANKED"]);
    assert_eq!(rows, [["cli-erp", "0.1.0", "0.1.0", "-"], ["mock-erp", "1.0.0", "1.0.0", "-"]], "{out}");
    let (_, out, _) = cli(base, &["plugin", "list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["plugins"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cli-erp", "mock-erp"]);
    assert_eq!(v["plugins"][0]["yanked"], serde_json::json!([]));
    let (_, out, _) = cli(base, &["plugin", "list", "-o", "yaml"]);
    let yaml: Vec<&str> = out.lines().collect();
    assert_eq!(yaml[0], "plugins:", "{out}");
    assert!(yaml.contains(&"  name: cli-erp") && yaml.contains(&"  name: mock-erp"), "{out}");
    assert!(yaml.contains(&"- latest: 1.0.0") || yaml.contains(&"  latest: 1.0.0"), "{out}");

    // plugin show, all versions and one
    let (_, out, _) = cli(base, &["plugin", "show", "mock-erp"]);
    let rows = table(&out, &["VERSION", "DIGEST", "CONTRACT", "EXPORTS", "COMPATIBLE", "YANKED", "PUBLISHED"]);
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!((rows[0][0].as_str(), rows[0][1].len()), ("1.0.0", 12), "{out}");
    assert_eq!(&rows[0][2..6], ["1.1.0", "erp,crm,pim", "yes", "no"], "{out}");
    let (_, out, _) = cli(base, &["plugin", "show", "cli-erp", "0.1.0"]);
    assert!(out.starts_with("plugin      cli-erp@0.1.0\n"), "{out}");
    assert!(out.contains("\nexports     erp,crm,pim\n") && out.contains("\ncompatible  yes\n"), "{out}");

    // tenant list and show
    let (_, out, _) = cli(base, &["tenant", "list"]);
    let rows = table(&out, &["TENANT", "ERP", "CRM", "PIM", "BINDING", "BOUND"]);
    let row = rows.iter().find(|r| r[0] == "cli-tenant").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(&row[1..4], ["mock-erp@1.0.0", "-", "-"], "{out}");
    let (ok, out, err) = cli(base, &["tenant", "show", "cli-tenant"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("tenant   cli-tenant\nbinding  #"), "{out}");
    assert!(out.contains("\nconfig   productCount (values: -o json)\n"), "{out}");
    assert!(!out.contains("productCount=5"), "config values are not printed: {out}");
    let pins = table(&out, &["KIND", "PLUGIN", "VERSION", "REQUIREMENT", "DIGEST"]);
    assert_eq!(&pins[0][..4], ["erp", "mock-erp", "1.0.0", "^1"], "{out}");
    let live = table(&out, &["KINDS", "STATE", "BREAKER", "QUEUE", "CALLS", "RESTARTS", "LAST", "ERROR"]);
    assert_eq!(&live[0][..4], ["erp", "idle", "closed", "0"], "{out}");
    assert_eq!(live[0][6], "-", "no failure yet: {out}");
    assert!(live[0][4].parse::<u64>().unwrap() >= 1, "the request the test sent was counted: {out}");
    let keys = table(&out, &["KEY", "LABEL", "CREATED", "REVOKED"]);
    assert_eq!((keys.len(), keys[0][1].as_str(), keys[0][3].as_str()), (1, "ci", "-"), "{out}");
    let (_, out, _) = cli(base, &["tenant", "show", "cli-tenant", "-o", "yaml"]);
    assert!(out.contains("\ntenant: cli-tenant\n") && out.contains("productCount: '5'"), "{out}");

    // audit: newest first, and the bind says what changed
    let (_, out, _) = cli(base, &["audit", "--limit", "5"]);
    let rows = table(&out, &["TIME", "ACTOR", "ACTION", "SUBJECT", "DETAIL"]);
    assert_eq!(rows.len(), 5, "{out}");
    let bind = rows.iter().find(|r| r[2] == "bind" && r[3] == "cli-tenant").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(bind[4..].join(" "), "erp: (none) -> mock-erp@1.0.0; config: +productCount", "{out}");
}

/// The commands that change something, in both modes: yank/unyank,
/// create/revoke a key, resync, bind with progress, rollback.
fn changes_in_both_modes(base: &str) {
    let json = |out: &str| serde_json::from_str::<serde_json::Value>(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let (ok, out, err) = cli(base, &["plugin", "yank", "cli-erp", "0.1.0"]);
    assert!(ok && out.starts_with("plugin      cli-erp@0.1.0\n") && out.contains("\nyanked      yes\n"), "{out}{err}");
    let (_, out, _) = cli(base, &["plugin", "list"]);
    let rows = table(&out, &["NAME", "LATEST", "VERSIONS", "YANKED"]);
    assert_eq!(rows[0], ["cli-erp", "-", "0.1.0", "0.1.0"], "a yanked version has no latest: {out}");
    let (_, out, _) = cli(base, &["plugin", "unyank", "cli-erp", "0.1.0", "-o", "json"]);
    assert_eq!((json(&out)["version"].as_str(), json(&out)["yanked"].as_bool()), (Some("0.1.0"), Some(false)));

    let (_, out, _) = cli(base, &["tenant", "list", "-o", "json"]);
    let v = json(&out);
    let t = v["tenants"].as_array().unwrap().iter().find(|t| t["id"] == "cli-tenant").unwrap();
    assert_eq!(t["binding"]["pins"]["erp"]["plugin"], "mock-erp");
    let first_binding = t["binding"]["id"].as_i64().unwrap();

    let (ok, out, err) = cli(base, &["tenant", "create-key", "cli-tenant", "--label", "tmp"]);
    assert!(ok && err.contains("shown once"), "{err}");
    let id = out.lines().find_map(|l| l.strip_prefix("id      ")).unwrap_or_else(|| panic!("{out}")).to_string();
    assert!(out.contains("\nlabel   tmp\nkey     b2c_"), "{out}");
    let (_, out, _) = cli(base, &["tenant", "revoke-key", "cli-tenant", &id]);
    assert_eq!(out, format!("revoked {id} of tenant cli-tenant\n"));
    let (code, _, err) = cli_code(base, &["tenant", "revoke-key", "cli-tenant", &id, "-o", "json"]);
    assert_eq!(code, 4, "revoked twice: {err}");

    let (_, out, _) = cli(base, &["tenant", "resync", "cli-tenant"]);
    assert!(out.starts_with("tenant cli-tenant: forgot 0 synced records;"), "{out}");
    let (_, out, _) = cli(base, &["tenant", "resync", "cli-tenant", "-o", "json"]);
    assert_eq!(json(&out), serde_json::json!({"tenant": "cli-tenant", "forgotten": 0}));

    // A rebind says what each kind resolved to; a rollback returns to the
    // first binding.
    let (ok, out, err) =
        cli(base, &["tenant", "bind", "cli-tenant", "--erp", "mock-erp@^1", "--config", "productCount=6"]);
    assert!(ok, "{err}");
    assert!(err.contains("erp: ^1 resolved to mock-erp@1.0.0, instance warm"), "{err}");
    assert!(out.contains("\nconfig   productCount (values: -o json)\n"), "{out}");
    let (_, out, _) = cli(base, &["tenant", "rollback", "cli-tenant"]);
    assert!(out.contains(&format!("\nbinding  #{first_binding} since ")), "{out}");
    let (_, out, _) = cli(base, &["audit", "--limit", "2", "-o", "json"]);
    let entries = json(&out)["entries"].as_array().unwrap().clone();
    assert_eq!((entries[0]["action"].as_str(), entries[1]["action"].as_str()), (Some("rollback"), Some("bind")));
    assert_eq!(entries[1]["detail"], "config: ~productCount", "only the config changed");
}

/// Exit codes (README): 2 usage, 3 unreachable, 4 not found, 5 conflict,
/// 1 any other refusal; one line on stderr each.
fn exit_codes_scripts_can_rely_on(base: &str) {
    let one_line = |err: &str| assert_eq!(err.lines().count(), 1, "{err}");
    let (code, out, err) = cli_code(base, &["plugin", "show", "no-such-plugin"]);
    assert_eq!((code, out.as_str()), (4, ""), "{err}");
    assert!(err.starts_with("error: 404 not-found: plugin no-such-plugin"), "{err}");
    one_line(&err);
    // An invalid component is refused (422): 1.
    // (`-o json`: a script's run, without the progress lines people get.)
    let (code, _, err) =
        cli_code(base, &["plugin", "publish", "/dev/null", "--name", "cli-erp", "--version", "0.3.0", "-o", "json"]);
    assert!(code == 1 && err.starts_with("error: 422 invalid-component: "), "{code} {err}");
    // Other bytes under a published version: a conflict.
    let other = b2c_host::bundled::MOCK_ERP_PATH;
    let (code, _, err) =
        cli_code(base, &["plugin", "publish", other, "--name", "cli-erp", "--version", "0.1.0", "-o", "json"]);
    assert_eq!(code, 5, "{err}");
    assert!(err.starts_with("error: 409 conflict: "), "{err}");
    let (code, _, err) = cli_code("http://127.0.0.1:1", &["plugin", "list"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.starts_with("error: cannot reach http://127.0.0.1:1/admin/v1/plugins"), "{err}");
    let (code, _, err) = cli_code(base, &["plugin", "list", "-o", "xml"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn completions_for_three_shells() {
    for (shell, marker) in
        [("bash", "complete -F _b2c__host"), ("zsh", "#compdef b2c-host"), ("fish", "complete -c b2c-host")]
    {
        let out = Command::new(BIN).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {}", &script[..script.len().min(300)]);
        assert!(script.contains("create-key") && script.contains("output"), "{shell} completes subcommands and flags");
    }
}

#[test]
fn wit_writes_the_contract_for_authors() {
    let out = Command::new(BIN).arg("wit").output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("package b2connect:provider@1.1.0;"), "{}", &printed[..printed.len().min(300)]);
    for world in
        ["world erp-plugin", "world full-provider", "interface erp-provider", "interface socket", "interface lifecycle"]
    {
        assert!(printed.contains(world), "{world}");
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("wit");
    let out = Command::new(BIN).args(["wit", "--out"]).arg(&target).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = target.join("b2connect-provider@1.1.0.wit");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), printed, "the file is what stdout shows");
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 1, "no temporary file left behind");
    // A path that cannot be a directory: a one-line error, exit 1, nothing written.
    let blocker = dir.path().join("plain-file");
    std::fs::write(&blocker, "x").unwrap();
    let out = Command::new(BIN).args(["wit", "--out"]).arg(&blocker).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: writing the contract into") && err.lines().count() == 1, "{err}");
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
        vec!["wit", "--help"],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"), "{args:?}");
    }
    let out = Command::new(BIN).args(["serve", "--queue-capacity", "0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("queue-capacity"));
}

/// Runs `args` under a pseudo-terminal (python3's `pty`, as a terminal
/// emulator would) until it has drawn `clears` terminal clears or `secs`
/// seconds have passed, then kills it; returns what it drew. Counting
/// clears, not seconds, keeps a slow machine from drawing too few frames.
fn under_pty(url: &str, args: &[&str], clears: usize, secs: f64) -> String {
    const PTY: &str = r#"
import os, pty, select, sys, time
clears = int(sys.argv[2])
clear = b"\x1b[H\x1b[2J"
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[3], sys.argv[3:])
end, out = time.time() + float(sys.argv[1]), bytearray()
while time.time() < end and out.count(clear) < clears:
    if select.select([fd], [], [], 0.1)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
os.kill(pid, 9)
sys.stdout.buffer.write(out)
"#;
    let out = Command::new("python3")
        .args(["-c", PTY, &secs.to_string(), &clears.to_string(), BIN])
        .args(args)
        .env("B2C_URL", url)
        .env("B2C_ADMIN_TOKEN", ADMIN)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn top_shows_two_tenants_under_load_with_their_figures_moving() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve_with(dir.path(), &[], Some("top-test-demo-key-0123456789"));
    let base = served.base.clone();
    let (ok, _, err) = cli(&base, &["tenant", "bind", "second", "--erp", "mock-erp@^1"]);
    assert!(ok, "{err}");
    let (ok, out, err) = cli(&base, &["tenant", "create-key", "second", "-o", "json"]);
    assert!(ok, "{err}");
    let second_key = serde_json::from_str::<serde_json::Value>(&out).unwrap()["key"].as_str().unwrap().to_string();

    // Load on both tenants while top draws: demo fast, second slower.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = [("demo", "top-test-demo-key-0123456789".to_string(), 0u64), ("second", second_key, 20)]
        .into_iter()
        .map(|(tenant, key, pause_ms)| {
            let (stop, base) = (stop.clone(), base.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let http = reqwest::Client::new();
                    let mut n = 0u32;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        n += 1;
                        let url = format!("{base}/api/v1/tenants/{tenant}/erp/products/P{:08}", n % 50 + 1);
                        let s = http.get(url).bearer_auth(&key).send().await.unwrap().status();
                        assert_eq!(s, 200, "{tenant}");
                        tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
                    }
                })
            })
        })
        .collect();
    // Seven clears: six whole frames, each at least 500 ms after the last.
    let drawn = under_pty(&base, &["top", "--interval-ms", "500"], 7, 60.0);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.into_iter().for_each(|t| t.join().unwrap());

    // Each frame starts by clearing the terminal.
    let frames: Vec<&str> = drawn.split(b2c_host::client::top::CLEAR).filter(|f| !f.trim().is_empty()).collect();
    // The capture is killed right after the seventh clear, possibly
    // before that frame is drawn: the last frame judged is the last one
    // another frame followed, so it is whole.
    assert!(frames.len() >= 6, "seven frames, a frame every 500 ms: {drawn:?}");
    let whole = &frames[..frames.len() - 1];
    let totals = |frame: &str| -> Vec<(String, u64, f64)> {
        table(
            &frame.replace("\r\n", "\n"),
            &["TENANT", "REQ/S", "P50MS", "P99MS", "ERR%", "CACHE%", "QUEUE", "RESTARTS", "BREAKER", "TOTAL"],
        )
        .into_iter()
        .map(|r| (r[0].clone(), r[9].parse().unwrap(), r[1].parse().unwrap()))
        .collect()
    };
    let (first, last) = (totals(whole[1]), totals(whole[whole.len() - 1]));
    let names = |rows: &[(String, u64, f64)]| rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&last).len(), 2, "{:?}", whole[whole.len() - 1]);
    // Sorted by request rate: demo (no pause) above second.
    assert_eq!(names(&last), ["demo", "second"], "{:?}", whole[whole.len() - 1]);
    // One frame for scripts: the stats route's answer.
    let (ok, out, err) = cli(&base, &["top", "--once", "-o", "json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["windowSeconds"], 10);
    let seen: Vec<(&str, u64)> = v["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tenant"].as_str().unwrap(), t["requests"].as_u64().unwrap()))
        .collect();
    assert!(seen.len() == 2 && seen.iter().all(|(_, n)| *n > 0), "{seen:?}");
    for tenant in ["demo", "second"] {
        let at = |rows: &[(String, u64, f64)]| rows.iter().find(|r| r.0 == tenant).map(|r| (r.1, r.2));
        let (before, after) = (at(&first).unwrap_or((0, 0.0)), at(&last).unwrap());
        assert!(after.0 > before.0, "{tenant}'s total moved between frames: {before:?} -> {after:?}");
        assert!(after.1 > 0.0, "{tenant} has a request rate: {after:?}");
    }
}
