//! A plugin's stdout/stderr reach the served host's log as one bounded
//! record per stream and call, with tenant and plugin fields: mock-erp's
//! `MOCK-ERP-WASI` probe writes 64 KiB to stderr in 1 KiB writes.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn plugin_stderr_is_one_bounded_log_record_with_tenant_and_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let key = "output-test-demo-key-0123456789";
    let (served, rx) = serve_logged(dir.path(), &[], Some(key), &[]);
    let url = format!("{}/api/v1/tenants/demo/erp/products/MOCK-ERP-WASI", served.base);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt
        .block_on(async { reqwest::Client::new().get(&url).bearer_auth(key).send().await.unwrap().status().as_u16() });
    assert_eq!(status, 200);

    let record = loop {
        let line = rx.recv_timeout(Duration::from_secs(30)).expect("the stderr record within 30 s");
        if line.contains("stream=\"stderr\"") {
            break line;
        }
    };
    assert!(record.contains("WARN"), "{record}");
    assert!(record.contains("tenant=demo") && record.contains("plugin=mock-erp"), "{record}");
    assert!(record.contains("dropped=61440"), "64 KiB written, 4 KiB kept: {record}");
    let kept = record.matches('e').count();
    assert!((4096..4096 + 200).contains(&kept), "the 4 KiB head and little else: {kept} in {record}");
    assert!(record.len() < 4096 + 300, "one bounded line: {} bytes", record.len());
}

/// A caller cannot make the host's log grow at its request rate: 3 008
/// failing requests (mock-erp's `FAULT-UNAVAILABLE`, a 503 each, then the
/// breaker's fast 503s) as fast as 16 connections send them write at most
/// the failure-line budget's burst plus its rate over the elapsed time.
/// Every failed request is either a written line or counted in
/// `erp_provider_failure_log_dropped`, and the written lines' `suppressed`
/// fields add up to that count.
#[test]
fn failing_requests_write_at_most_the_failure_line_budget() {
    use b2c_host::failure_log::{LINES_BURST, LINES_PER_SEC};
    let dir = tempfile::tempdir().unwrap();
    let (served, rx) = serve_logged(dir.path(), &[], Some("output-test-demo-key-0123456789"), &[]);
    let base = served.base.clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();
    let key = rt.block_on(async {
        let body = serde_json::json!({ "erp": { "plugin": "mock-erp", "version": "^1" }, "config": { "faultInjection": "on" } });
        let (status, _) = admin(&c, &base, reqwest::Method::PUT, "/admin/v1/tenants/flaky", Some(body)).await;
        assert_eq!(status, 200);
        let (_, k) = admin(&c, &base, reqwest::Method::POST, "/admin/v1/tenants/flaky/api-keys", None).await;
        k["key"].as_str().unwrap().to_string()
    });
    let url = format!("{base}/api/v1/tenants/flaky/erp/products/FAULT-UNAVAILABLE");
    let (workers, per_worker) = (16usize, 188usize);
    let requests = workers * per_worker;
    let t = std::time::Instant::now();
    let statuses: Vec<u16> = rt.block_on(async {
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let (c, url, key) = (c.clone(), url.clone(), key.clone());
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    for _ in 0..per_worker {
                        out.push(status(&c, &url, &key).await);
                    }
                    out
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let elapsed = t.elapsed();
    assert_eq!(statuses.len(), requests);
    assert!(statuses.iter().all(|&s| s == 503), "every request failed with a 503");
    // After a quiet second the budget has room again: one more failure is
    // written and carries the count of every line dropped before it.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(rt.block_on(status(&c, &url, &key)), 503);
    let dropped = rt.block_on(async {
        let text = c.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        let line = text.lines().find(|l| l.starts_with("erp_provider_failure_log_dropped ")).expect("the metric");
        line.rsplit(' ').next().unwrap().parse::<u64>().unwrap()
    });
    // The last request's line is the newest failure line the host writes.
    let mut written = Vec::new();
    loop {
        let line = rx.recv_timeout(Duration::from_secs(30)).expect("the last request's line within 30 s");
        if !line.contains("request failed") {
            continue;
        }
        let suppressed: u64 = line
            .split("suppressed=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a failure line names what it suppressed: {line}"));
        written.push(suppressed);
        if written.len() as u64 + dropped == requests as u64 + 1 {
            break;
        }
    }
    let allowed = u64::from(LINES_BURST) + (elapsed.as_secs_f64() * f64::from(LINES_PER_SEC)).ceil() as u64 + 1;
    eprintln!(
        "{requests} failing requests in {elapsed:?}: {} lines written (allowed {allowed} + the last), {dropped} dropped",
        written.len()
    );
    assert!(dropped > 0, "the budget dropped lines");
    assert!(written.len() as u64 <= allowed + 1, "{} lines written, at most {allowed} + 1 allowed", written.len());
    assert_eq!(written.iter().sum::<u64>(), dropped, "the written lines account for every dropped one");
    assert!(*written.last().unwrap() > 0, "the line after the burst names the lines dropped before it");
}

/// The status of a tenant GET.
async fn status(c: &reqwest::Client, url: &str, key: &str) -> u16 {
    c.get(url).bearer_auth(key).send().await.unwrap().status().as_u16()
}
