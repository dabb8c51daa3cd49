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
