//! Shared helpers: a host on a temporary data dir, tenants bound to the
//! bundled mock-erp, and an in-process HTTP client (`oneshot` on the app).

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use b2c_host::ProviderKind;
use b2c_host::actor::Provider;
use b2c_host::api::{self, AppState};
use b2c_host::cli::ServeArgs;
use b2c_host::server::Host;
use b2c_registry::{BindingRequest, KindRequest};
use http_body_util::BodyExt;
use serde_json::Value;
use std::collections::BTreeMap;
use tower::ServiceExt;

pub const ADMIN: &str = "test-admin-token-0123456789";
pub const DEMO_KEY: &str = "b2c_test_demo_key_0123456789abcdef";

pub struct TestHost {
    /// Kept so the data dir lives as long as the host.
    #[allow(dead_code)]
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub app: Router,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: axum::body::Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    /// Asserts a problem+json answer with this status and returns it.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.content_type(), "application/problem+json");
        let p = self.json();
        assert_eq!(p["status"], status);
        assert!(p["type"].as_str().unwrap().starts_with("urn:b2connect:problem:"), "{p}");
        assert!(p["title"].is_string() && p["detail"].is_string(), "{p}");
        p
    }
}

impl TestHost {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut ServeArgs)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut args = ServeArgs::with_data_dir(dir.path());
        args.admin_token = Some(ADMIN.into());
        args.demo_key = Some(DEMO_KEY.into());
        f(&mut args);
        let host = Host::start(&args).await.expect("host starts");
        Host::finish_startup(host.state.runtime.clone(), host.startup).await;
        let app = api::app(host.state.clone());
        Self { dir, state: host.state, app }
    }

    /// Stops this host and starts a new one on the same data dir, as a
    /// process restart would (same admin token and demo key).
    pub async fn restart(self) -> TestHost {
        let (h, startup) = self.restart_listening_with(|_| {}).await;
        Host::finish_startup(h.state.runtime.clone(), startup).await;
        h
    }

    /// [`TestHost::restart`] with other arguments, up to where `serve`
    /// listens: the bound tenants are not activated yet;
    /// `Host::finish_startup` with the bindings returned does that.
    pub async fn restart_listening_with(
        self,
        f: impl FnOnce(&mut ServeArgs),
    ) -> (TestHost, Vec<b2c_registry::BindingRecord>) {
        let TestHost { dir, app, state } = self;
        drop(app);
        drop(state);
        let mut args = ServeArgs::with_data_dir(dir.path());
        args.admin_token = Some(ADMIN.into());
        args.demo_key = Some(DEMO_KEY.into());
        f(&mut args);
        let host = Host::start(&args).await.expect("host restarts");
        assert!(!host.bootstrap.seeded, "a restart does not seed the demo again");
        let app = api::app(host.state.clone());
        (TestHost { dir, state: host.state, app }, host.startup)
    }

    /// Binds `tenant` to the bundled mock-erp for all three kinds with
    /// `config`, and returns a fresh API key for it.
    pub async fn add_tenant(&self, tenant: &str, config: &[(&str, &str)]) -> String {
        let kind = || Some(KindRequest { plugin: "mock-erp".into(), version: "^1".into() });
        let request = BindingRequest {
            erp: kind(),
            crm: kind(),
            pim: kind(),
            config: config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
            socket: None,
        };
        let contract = b2c_host::runtime::host_contract();
        let binding = self.state.registry.bind(tenant, &request, &contract, "test").expect("bind");
        self.state.runtime.activate(&binding).await.expect("activate");
        let key = format!("b2c_test_{tenant}_{}", "k".repeat(16));
        self.state.registry.add_api_key(tenant, &key, "test", "test").expect("key");
        self.state.auth.reload(&self.state.registry).expect("reload keys");
        key
    }

    pub fn provider(&self, tenant: &str, kind: ProviderKind) -> Provider {
        self.state.runtime.provider(tenant, kind).expect("tenant is bound")
    }

    pub async fn request(&self, req: Request<Body>) -> Resp {
        let res = self.app.clone().oneshot(req).await.expect("infallible service");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        Resp { status, headers, body }
    }

    pub async fn get(&self, key: Option<&str>, path: &str) -> Resp {
        let mut b = Request::get(path);
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        self.request(b.body(Body::empty()).unwrap()).await
    }

    /// A request with an optional bearer token and an optional JSON body.
    pub async fn call(&self, method: &str, path: &str, body: &Option<Value>, bearer: Option<&str>) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(k) = bearer {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        let body = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.request(b.body(body).unwrap()).await
    }

    /// A request with the admin token and an optional JSON body.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call(method, path, &body, Some(ADMIN)).await
    }

    /// Publishes a component (201 new, 200 the same bytes again).
    pub async fn publish(&self, name: &str, version: &str, bytes: Vec<u8>) {
        let put = Request::put(format!("/admin/v1/plugins/{name}/versions/{version}"))
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/wasm")
            .body(Body::from(bytes))
            .unwrap();
        let r = self.request(put).await;
        assert!(r.status == 201 || r.status == 200, "publish {name}: {}", String::from_utf8_lossy(&r.body));
    }

    /// Binds `tenant` through the admin API with `body` and returns a new
    /// API key for it.
    pub async fn bind_with_key(&self, tenant: &str, body: Value) -> String {
        let r = self.admin("PUT", &format!("/admin/v1/tenants/{tenant}"), Some(body)).await;
        assert_eq!(r.status, 200, "bind {tenant}: {}", String::from_utf8_lossy(&r.body));
        let k = self.admin("POST", &format!("/admin/v1/tenants/{tenant}/api-keys"), None).await.json();
        k["key"].as_str().expect("key in answer").to_string()
    }

    /// The value of one metric sample line (exact name and labels). Panics
    /// when the sample is missing: a renamed or unexported metric must fail
    /// the test that reads it, not read as 0 and pass a "back to 0" check.
    pub async fn metric(&self, name_and_labels: &str) -> f64 {
        let text = self.metrics_text().await;
        sample(&text, name_and_labels).unwrap_or_else(|| {
            let family = name_and_labels.split('{').next().unwrap_or(name_and_labels);
            let excerpt: Vec<&str> = text.lines().filter(|l| l.contains(family)).take(20).collect();
            panic!(
                "metric sample {name_and_labels:?} is not in /metrics; lines of its family: {excerpt:#?}; \
                 first lines: {:#?}",
                text.lines().take(10).collect::<Vec<_>>()
            )
        })
    }

    /// Like [`metric`](Self::metric), but 0 when the sample is absent. Only
    /// for per-tenant samples the host creates on first use (a tenant's
    /// cache counters before its first cached read), where absence
    /// legitimately means 0. prometheus-client leaves out a family with no
    /// samples at all, so a misspelt name would read 0 too: a test using
    /// this must also read the same sample with `metric` once it exists.
    pub async fn metric_or_zero(&self, name_and_labels: &str) -> f64 {
        sample(&self.metrics_text().await, name_and_labels).unwrap_or(0.0)
    }

    async fn metrics_text(&self) -> String {
        let r = self.get(None, "/metrics").await;
        assert_eq!(r.status, 200, "/metrics");
        String::from_utf8_lossy(&r.body).into_owned()
    }

    pub async fn post_json(&self, key: Option<&str>, path: &str, body: &Value) -> Resp {
        let mut b = Request::post(path).header("content-type", "application/json");
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        self.request(b.body(Body::from(body.to_string())).unwrap()).await
    }
}

/// Parses an NDJSON body into values (asserting every line is JSON).
pub fn ndjson_lines(body: &[u8]) -> Vec<Value> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("NDJSON line"))
        .collect()
}

pub fn pid(i: u64) -> String {
    format!("P{i:08}")
}

/// The 99th percentile of latency samples, in milliseconds (a figure for
/// test output, never asserted).
pub fn p99_ms(mut v: Vec<std::time::Duration>) -> f64 {
    v.sort_unstable();
    v.get((v.len() * 99 / 100).min(v.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// The value of the sample `name_and_labels` (exact) in metrics text.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)
            .and_then(|v| v.strip_prefix(' '))
            .map(|v| v.trim().parse().unwrap_or_else(|e| panic!("{name_and_labels}: {v:?} is not a number: {e}")))
    })
}

/// A well-behaved tenant served in a loop beside an experiment (hostile
/// plugins, attacks): records every request's latency and counts non-200
/// answers. One request every `pace`, or back to back (with a yield, so a
/// cached answer cannot starve other tasks) when `pace` is `None`.
pub struct Neighbour {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    done: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<(Vec<std::time::Duration>, u64)>,
}

impl Neighbour {
    /// Starts serving `tenant` (bound to mock-erp with at least `products`
    /// products) with `key`.
    pub fn start(
        h: std::sync::Arc<TestHost>,
        tenant: &str,
        key: &str,
        products: u64,
        pace: Option<std::time::Duration>,
    ) -> Self {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (s, d, tenant, key) = (stop.clone(), done.clone(), tenant.to_string(), key.to_string());
        let task = tokio::spawn(async move {
            let (mut lat, mut errors, mut i) = (Vec::new(), 0u64, 0u64);
            let mut tick = pace.map(|p| {
                let mut t = tokio::time::interval(p);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            while !s.load(Ordering::Relaxed) {
                match tick.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => tokio::task::yield_now().await,
                }
                i += 1;
                let t = std::time::Instant::now();
                let id = pid(1 + i % products);
                let r = h.get(Some(&key), &format!("/api/v1/tenants/{tenant}/erp/products/{id}")).await;
                lat.push(t.elapsed());
                if r.status != 200 || r.json()["id"] != id.as_str() {
                    errors += 1;
                    eprintln!("neighbour error {}: {}", r.status, String::from_utf8_lossy(&r.body));
                }
                d.fetch_add(1, Ordering::Relaxed);
            }
            (lat, errors)
        });
        Self { stop, done, task }
    }

    /// Waits until the neighbour has been answered `n` more times (a
    /// measurement window counted in requests, not in wall-clock time).
    pub async fn served(&self, n: u64) {
        use std::sync::atomic::Ordering;
        let target = self.done.load(Ordering::Relaxed) + n;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while self.done.load(Ordering::Relaxed) < target {
            assert!(!self.task.is_finished(), "the neighbour stopped early");
            assert!(std::time::Instant::now() < deadline, "the neighbour was not served {n} times in 120 s");
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// Stops the loop; its latencies and error count.
    pub async fn finish(self) -> (Vec<std::time::Duration>, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.expect("neighbour task")
    }
}

/// Polls `cond` every few milliseconds until it holds, failing after
/// `limit` with `what`: waiting for an observable event instead of
/// sleeping a guessed time.
pub async fn wait_until<F, Fut>(what: &str, limit: std::time::Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while !cond().await {
        assert!(std::time::Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
