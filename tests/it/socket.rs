//! The socket capability: a plugin reaches its tenant's granted endpoint
//! and nothing else (another tenant's endpoint, arbitrary addresses, WASI
//! sockets), and denials are counted in /metrics.

use crate::util::*;
use serde_json::json;

async fn bind_probe(h: &TestHost, tenant: &str, socket: Option<&str>) -> String {
    let bytes = std::fs::read(b2c_host::bundled::SOCKET_PROBE_PATH).unwrap();
    let put = axum::http::Request::put("/admin/v1/plugins/socket-probe/versions/1.0.0")
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/wasm")
        .body(axum::body::Body::from(bytes))
        .unwrap();
    assert!(h.request(put).await.status.is_success());
    let mut body = json!({ "erp": { "plugin": "socket-probe", "version": "^1" } });
    if let Some(s) = socket {
        body["socket"] = json!(s);
    }
    assert_eq!(h.admin("PUT", &format!("/admin/v1/tenants/{tenant}"), Some(body)).await.status, 200);
    h.admin("POST", &format!("/admin/v1/tenants/{tenant}/api-keys"), None).await.json()["key"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn probe(h: &TestHost, key: &str, tenant: &str, what: &str) -> String {
    let r = h.get(Some(key), &format!("/api/v1/tenants/{tenant}/erp/products/{what}")).await;
    r.problem(404)["detail"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_plugin_reaches_only_its_granted_endpoint() {
    let a_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a, b) = (a_listener.local_addr().unwrap().to_string(), b_listener.local_addr().unwrap().to_string());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for l in [a_listener, b_listener] {
        let accepted = accepted.clone();
        tokio::spawn(async move {
            while let Ok((_s, _)) = l.accept().await {
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    let h = TestHost::start().await;
    let ka = bind_probe(&h, "tenant-a", Some(&a)).await;
    let kb = bind_probe(&h, "tenant-b", Some(&b)).await;
    let kn = bind_probe(&h, "tenant-none", None).await;

    assert_eq!(probe(&h, &ka, "tenant-a", "grant").await, format!("grant=Some({a:?})"));
    assert_eq!(probe(&h, &ka, "tenant-a", &format!("connect:{a}")).await, "connected");
    assert_eq!(probe(&h, &kb, "tenant-b", &format!("connect:{b}")).await, "connected");
    // Another tenant's endpoint, an arbitrary address, and no grant at all.
    let denied = [
        probe(&h, &ka, "tenant-a", &format!("connect:{b}")).await,
        probe(&h, &ka, "tenant-a", "connect:127.0.0.1:9").await,
        probe(&h, &kn, "tenant-none", &format!("connect:{a}")).await,
    ];
    for d in &denied {
        assert!(d.starts_with("refused: ") && d.contains("AccessDenied"), "{d}");
    }
    // WASI sockets are off: the plain std::net path fails too.
    let w = probe(&h, &ka, "tenant-a", &format!("wasi:{b}")).await;
    assert!(w.starts_with("wasi-refused"), "{w}");
    // The denied connects were refused inside the host before any connect
    // (their probes have answered), so once the two granted ones have been
    // accepted nothing else can still arrive.
    let count = accepted.clone();
    wait_until("the two granted connects to be accepted", std::time::Duration::from_secs(10), || {
        let count = count.clone();
        async move { count.load(std::sync::atomic::Ordering::SeqCst) >= 2 }
    })
    .await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2, "only the two granted connects arrived");
    assert_eq!(h.metric("erp_provider_socket_denied").await, 3.0);
    assert_eq!(h.metric("erp_provider_socket_connects").await, 2.0);
    assert_eq!(h.metric("erp_provider_socket_sent_bytes").await, 10.0);
}
