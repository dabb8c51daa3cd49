//! `b2c-host plugin check`: it passes the providers that keep the contract
//! (mock-erp, readonly-erp, the fixture unbroken), and for each rule a
//! variant of the `sloppy` fixture that breaks it makes exactly that rule
//! fail, with exit code 1.

mod common;

use b2c_host::ProviderKind;
use common::BIN;
use std::collections::BTreeSet;
use std::process::Command;

/// Runs the check; (exit code, rule -> outcome).
fn check(file: &str, args: &[&str]) -> (i32, Vec<(String, String, String)>) {
    let out = Command::new(BIN).args(["plugin", "check", file, "-o", "json"]).args(args).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    let rows = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("rule"), s("outcome"), s("detail"))
        })
        .collect();
    (out.status.code().unwrap_or(-1), rows)
}

fn failing(rows: &[(String, String, String)]) -> BTreeSet<String> {
    rows.iter().filter(|r| r.1 == "fail").map(|r| r.0.clone()).collect()
}

#[test]
fn a_correct_provider_passes_and_each_broken_rule_fails_alone() {
    let sloppy = b2c_host::bundled::SLOPPY_PATH;
    let (code, rows) = check(sloppy, &["--writes"]);
    assert_eq!((code, failing(&rows)), (0, BTreeSet::new()), "{rows:#?}");
    let skipped: Vec<_> = rows.iter().filter(|r| r.1 == "skip").collect();
    assert!(skipped.is_empty(), "the fixture serves every rule: {skipped:#?}");
    // Every rule, in the order `rule_names` promises every run reports.
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, b2c_host::conformance::rule_names(&[ProviderKind::Erp, ProviderKind::Crm, ProviderKind::Pim]));
    assert_eq!(rows.len(), 21, "{rows:#?}");

    for (broken, rule) in [
        ("unknown-not-found", "erp.products.unknown-not-found"),
        ("stream-equals-get", "erp.products.stream-equals-get"),
        ("batch-order", "erp.products.batch-order"),
        ("stream-filter", "erp.products.stream-filter"),
        ("stream-filter-drops", "erp.products.stream-filter"),
        ("stream-duplicates", "erp.products.stream-ends"),
        ("sync-not-idempotent", "erp.sync-twice-changes-nothing"),
        ("orders-miscount", "erp.create-orders-counts-what-was-sent"),
        ("contact-unknown", "crm.contacts.unknown-not-found"),
        ("activities-unknown", "crm.activities.unknown-customer-not-found"),
        ("details-differ", "pim.catalog.stream-equals-details"),
        ("foreign-token", "pim.catalog.foreign-token-invalid-input"),
        ("pages-overlap", "pim.catalog.pages-end-without-duplicates"),
        ("pages-endless", "pim.catalog.pages-end-without-duplicates"),
        ("pages-short", "pim.catalog.pages-cover-the-stream"),
    ] {
        let (code, rows) = check(sloppy, &["--writes", "--config", &format!("break={broken}")]);
        // Exactly that rule: pages that never end are not compared with the
        // stream (skipped), they do not fail a second rule.
        assert_eq!(failing(&rows), BTreeSet::from([rule.to_string()]), "break={broken}: {rows:#?}");
        assert_eq!(code, 1, "break={broken}");
        let detail = &rows.iter().find(|r| r.0 == rule).unwrap().2;
        assert!(!detail.is_empty(), "break={broken}: a failure names its counter-example");
    }

    // Writes are off by default: those two rules are skipped, not run.
    let (code, rows) = check(sloppy, &["--config", "break=sync-not-idempotent"]);
    assert_eq!((code, failing(&rows)), (0, BTreeSet::new()));
    assert_eq!(rows.iter().filter(|r| r.1 == "skip" && r.2.contains("--writes")).count(), 2);
}

/// The whole check has a deadline: a provider whose every single get takes
/// 150 ms (well inside the call timeout) needs over 3 s for the ~21 gets of
/// the ERP rules; with `--timeout-secs 1` the check stops at 1 s, fails
/// exactly the deadline rule (naming where it stopped), keeps what it had
/// judged and lists the rest as skipped. The bound is measured: the
/// deadline rule reports when the check stopped.
#[test]
fn the_whole_check_stops_at_its_deadline() {
    let sloppy = b2c_host::bundled::SLOPPY_PATH;
    let seconds = |detail: &str, after: &str| -> f64 {
        let rest = &detail[detail.find(after).unwrap_or_else(|| panic!("{after:?} in {detail:?}")) + after.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    let within = |rows: &[(String, String, String)]| {
        rows.iter().find(|r| r.0 == "check.finishes-within-deadline").cloned().expect("the deadline rule is listed")
    };

    // Unbounded (the default 300 s), the slow variant conforms, slowly.
    let (code, rows) = check(sloppy, &["--config", "break=slow"]);
    assert_eq!((code, failing(&rows)), (0, BTreeSet::new()), "{rows:#?}");
    let took = seconds(&within(&rows).2, "finished in ");
    assert!(took >= 3.0, "21 gets of 150 ms: {took} s");

    let (code, rows) = check(sloppy, &["--config", "break=slow", "--timeout-secs", "1"]);
    assert_eq!(code, 1);
    assert_eq!(failing(&rows), BTreeSet::from(["check.finishes-within-deadline".to_string()]), "{rows:#?}");
    let (_, _, detail) = within(&rows);
    let stopped = seconds(&detail, "stopped at ");
    assert!((1.0..2.5).contains(&stopped), "the check stopped at {stopped} s: {detail}");
    assert!(detail.contains("during erp.products.stream-equals-get"), "{detail}");
    // Judged before the deadline: kept. After it: skipped, saying why.
    let outcome = |rule: &str| rows.iter().find(|r| r.0 == rule).map(|r| (r.1.clone(), r.2.clone())).unwrap();
    assert_eq!(outcome("erp.products.unknown-not-found").0, "pass");
    assert_eq!(outcome("erp.products.stream-ends").0, "pass");
    for rule in ["erp.products.stream-equals-get", "erp.customers.batch-order", "pim.catalog.pages-cover-the-stream"] {
        let (verdict, why) = outcome(rule);
        assert_eq!(verdict, "skip", "{rule}");
        assert_eq!(why, "not judged: the check's deadline of 1 s passed first", "{rule}");
    }
    assert_eq!(rows.len(), 21, "the same rules as a finished run");

    // Stopped among the PIM rules (the ERP ones done): the same rules in
    // the same order as a finished run.
    let (code, rows) = check(sloppy, &["--config", "break=slow-details", "--timeout-secs", "2"]);
    assert_eq!(code, 1);
    assert_eq!(failing(&rows), BTreeSet::from(["check.finishes-within-deadline".to_string()]), "{rows:#?}");
    assert!(within(&rows).2.contains(", during pim."), "{rows:#?}");
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, b2c_host::conformance::rule_names(&[ProviderKind::Erp, ProviderKind::Crm, ProviderKind::Pim]));

    // `--call-timeout-ms`: the serving host's call timeout, so the CLI
    // judges as that host's publish does: 1 s gets time out at 500 ms.
    let (code, rows) = check(sloppy, &["--config", "break=slower", "--call-timeout-ms", "500"]);
    assert_eq!(code, 1);
    let want = ["erp.products.stream-equals-get", "erp.products.unknown-not-found"];
    assert_eq!(failing(&rows), want.iter().map(|r| r.to_string()).collect(), "{rows:#?}");
    for rule in want {
        let detail = &rows.iter().find(|r| r.0 == rule).unwrap().2;
        assert!(detail.contains("did not answer within 500ms"), "{rule}: {detail}");
    }
}

#[test]
fn the_bundled_providers_pass() {
    let (code, rows) = check(
        b2c_host::bundled::MOCK_ERP_PATH,
        &["--writes", "--config", "productCount=300", "--config", "customerCount=50"],
    );
    assert_eq!((code, failing(&rows)), (0, BTreeSet::new()), "{rows:#?}");
    let passed = rows.iter().filter(|r| r.1 == "pass").count();
    assert!(passed >= 19, "mock-erp serves nearly every rule (and the deadline): {rows:#?}");

    let (code, rows) = check(b2c_host::bundled::READONLY_ERP_PATH, &["--config", "productCount=40"]);
    assert_eq!((code, failing(&rows)), (0, BTreeSet::new()), "{rows:#?}");
    assert!(rows.iter().any(|r| r.0 == "erp.products.stream-filter" && r.1 == "pass"), "{rows:#?}");
    assert!(
        rows.iter().any(|r| r.0 == "erp.customers.stream-ends" && r.1 == "skip"),
        "unsupported is a skip: {rows:#?}"
    );

    // The table for people: one line per rule and a count; exit 1 on a failure.
    let out = Command::new(BIN)
        .args(["plugin", "check", b2c_host::bundled::SLOPPY_PATH, "--config", "break=foreign-token"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("RULE"), "{table}");
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("pim.catalog.foreign-token-invalid-input "))
        .map(|l| l.split_whitespace().take(2).collect())
        .unwrap_or_default();
    assert_eq!(row, ["pim.catalog.foreign-token-invalid-input", "fail"], "{table}");
    assert!(table.contains("1 failed"), "{table}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 21 rules failed"));

    // A malformed --config is a usage error (exit 2) naming the flag; the
    // same parse serves `tenant bind`, which fails before any request.
    for args in [
        vec!["plugin", "check", b2c_host::bundled::SLOPPY_PATH, "--config", "productCount"],
        vec!["tenant", "bind", "acme", "--erp", "mock-erp@^1", "--config", "productCount"],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .env("B2C_URL", "http://127.0.0.1:9")
            .env("B2C_ADMIN_TOKEN", "unused")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--config expects KEY=VALUE, got \"productCount\""), "{args:?}: {err}");
    }
}
