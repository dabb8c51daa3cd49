//! The rows of the table, run against a real host per provider.

use crate::client::{Api, Latency, StreamRun};
use crate::host::{HostProc, RssSampler};
use anyhow::Context;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const MIB: f64 = 1024.0 * 1024.0;

/// How much of everything; `quick` keeps the whole run under a minute.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sizes {
    pub mode: &'static str,
    pub single: usize,
    pub bulk: usize,
    pub orders: usize,
    pub mock_stream: u64,
    pub bridge_articles: u64,
    pub sync_records: usize,
    pub throughput_secs: u64,
    pub throughput_conns: usize,
    pub throughput_tenants: usize,
    pub memory_tenants: usize,
    pub startup_plugins: usize,
    pub cold_samples: usize,
    pub first_record_samples: usize,
    pub overhead_calls: usize,
}

impl Sizes {
    pub fn full() -> Self {
        Self {
            mode: "full",
            single: 5000,
            bulk: 2000,
            orders: 2000,
            mock_stream: 10_000_000,
            bridge_articles: 1_000_000,
            sync_records: 10_000,
            throughput_secs: 10,
            throughput_conns: 64,
            throughput_tenants: 50,
            memory_tenants: 1000,
            startup_plugins: 20,
            cold_samples: 5,
            first_record_samples: 21,
            overhead_calls: 5000,
        }
    }

    pub fn quick() -> Self {
        Self {
            mode: "quick",
            single: 300,
            bulk: 150,
            orders: 150,
            mock_stream: 300_000,
            bridge_articles: 100_000,
            sync_records: 10_000,
            throughput_secs: 2,
            throughput_conns: 64,
            throughput_tenants: 50,
            memory_tenants: 100,
            startup_plugins: 5,
            cold_samples: 2,
            first_record_samples: 5,
            overhead_calls: 500,
        }
    }
}

/// The per-provider rows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProviderRows {
    pub provider: String,
    pub single: Latency,
    pub bulk100: Latency,
    pub order: Latency,
    pub stream: StreamRun,
    /// Median time to the first record of a stream on a warm tenant.
    pub stream_first_record_ms: f64,
    pub stream_rss_growth_mib: f64,
    /// CPU the host process spent per streamed record (all its threads):
    /// what one host core can sustain, apart from the client and the
    /// simulator that share this machine.
    pub stream_host_cpu_us_per_record: f64,
    /// CPU of this benchmark process per streamed record: the HTTP client,
    /// and for the bridge the in-process enventa-sim, on the same cores.
    pub stream_client_cpu_us_per_record: f64,
    pub stream_first_record_cold_ms: f64,
    pub bulk_sync_ms: f64,
    pub bulk_sync_unchanged_ms: f64,
    pub throughput: Throughput,
    pub cold_bind_ms: f64,
    pub cold_first_request_ms: f64,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Throughput {
    pub conns: usize,
    pub tenants: usize,
    pub requests: u64,
    pub errors: u64,
    pub per_s: f64,
    pub latency: Latency,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Results {
    pub providers: Vec<ProviderRows>,
    /// The bridge's stream from a container with [`SLOW_CONTAINER_MS`] per
    /// request.
    pub bridge_slow_stream: Option<StreamRun>,
    /// `--only bridge-stream`: the bridge's two stream rows alone (0 ms and
    /// [`SLOW_CONTAINER_MS`]), each on a fresh host and simulator.
    pub bridge_streams: Vec<StreamOnly>,
    pub startup: Option<Startup>,
    pub memory: Option<Memory>,
    pub overhead: Option<crate::native::Overhead>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Startup {
    pub plugins: usize,
    pub first_start_ms: f64,
    pub publish_and_bind_ms: f64,
    /// Warm compile cache: listening, then every tenant active.
    pub restart_ms: f64,
    pub restart_ready_ms: f64,
    /// Cold compile cache: listening, then every tenant active.
    pub cold_restart_listen_ms: f64,
    pub cold_restart_ready_ms: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Memory {
    pub tenants: usize,
    pub rss_before_mib: f64,
    pub rss_after_mib: f64,
    pub per_tenant_kib: f64,
}

/// What differs between the two providers.
struct Provider {
    name: &'static str,
    plugin: &'static str,
    config: Value,
    socket: Option<String>,
    product_ids: u64,
    product: fn(u64) -> String,
    customer: fn(u64) -> String,
    customers: u64,
}

pub async fn run_all(s: &Sizes, only: &[String]) -> anyhow::Result<Results> {
    let wants = |p: &str| only.is_empty() || only.iter().any(|o| o == p);
    let mut providers = Vec::new();
    if wants("mock-erp") {
        let p = Provider {
            name: "mock-erp",
            plugin: "mock-erp",
            config: json!({ "productCount": s.mock_stream }),
            socket: None,
            product_ids: s.mock_stream,
            product: |i| format!("P{i:08}"),
            customer: |i| format!("CU{i:07}"),
            customers: 10_000,
        };
        providers.push(provider_rows(s, &p, None).await.context("mock-erp")?);
    }
    let mut bridge_slow_stream = None;
    if wants("enventa-bridge") {
        let sim = start_sim(s.bridge_articles, 0)?;
        let p = bridge_provider(s, sim);
        let bytes = std::fs::read(b2c_host::bundled::ENVENTA_BRIDGE_PATH).context("bundled enventa-bridge")?;
        providers.push(provider_rows(s, &p, Some(bytes.clone())).await.context("enventa-bridge")?);
        // The same stream from a container that takes 1 ms per request: what
        // server streaming (§3.10) hides behind the bridge's own work.
        let slow = start_sim(s.bridge_articles, SLOW_CONTAINER_MS)?;
        let p = Provider { socket: Some(slow.to_string()), ..p };
        let slow = stream_only(&p, bytes, SLOW_CONTAINER_MS).await.context("enventa-bridge, 1 ms container")?;
        bridge_slow_stream = Some(slow.stream);
    }
    let mut bridge_streams = Vec::new();
    if only.iter().any(|o| o == "bridge-stream") {
        let bytes = std::fs::read(b2c_host::bundled::ENVENTA_BRIDGE_PATH).context("bundled enventa-bridge")?;
        for latency_ms in [0, SLOW_CONTAINER_MS] {
            let sim = start_sim(s.bridge_articles, latency_ms)?;
            let p = bridge_provider(s, sim);
            let run = stream_only(&p, bytes.clone(), latency_ms).await.context("enventa-bridge stream")?;
            bridge_streams.push(run);
        }
    }
    let memory = if wants("memory") { Some(memory_per_tenant(s).await.context("memory per tenant")?) } else { None };
    let startup = if wants("startup") { Some(startup(s).await.context("start-up")?) } else { None };
    let overhead = if wants("overhead") {
        Some(crate::native::measure(100, s.overhead_calls).await.context("overhead")?)
    } else {
        None
    };
    Ok(Results { providers, bridge_slow_stream, bridge_streams, startup, memory, overhead })
}

/// Latency the slow container adds to every request (and every streamed
/// page) in the bench's second bridge stream row.
pub const SLOW_CONTAINER_MS: u64 = 1;

/// The bridge against the simulator at `sim`.
fn bridge_provider(s: &Sizes, sim: std::net::SocketAddr) -> Provider {
    Provider {
        name: "enventa-bridge + enventa-sim",
        plugin: "enventa-bridge",
        config: json!({ "enventaUser": "b2c", "syncBatchSize": 1000 }),
        socket: Some(sim.to_string()),
        product_ids: s.bridge_articles,
        product: |i| format!("A{i:07}"),
        customer: |i| format!("K{i:06}"),
        customers: 10_000,
    }
}

/// One stream on its own, with the CPU each side spent on it.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct StreamOnly {
    /// The container's latency per request and per streamed page.
    pub latency_ms: u64,
    pub stream: StreamRun,
    pub host_cpu_us_per_record: f64,
    /// This process: the HTTP client and the in-process simulator.
    pub client_cpu_us_per_record: f64,
}

/// A fresh host with one tenant on `p`, and one full stream of its products.
async fn stream_only(p: &Provider, bytes: Vec<u8>, latency_ms: u64) -> anyhow::Result<StreamOnly> {
    println!("== {} (container latency {latency_ms} ms) ==", p.name);
    let dir = tempfile::tempdir()?;
    let host = HostProc::start(dir.path(), &[])?;
    let api = Api::new(&host.base);
    api.publish(p.plugin, "1.0.0", bytes).await?;
    let key = api.bind("bench", p.plugin, "^1", p.config.clone(), p.socket.as_deref()).await?;
    let cpu_before = crate::host::cpu_seconds_of(host.pid());
    let own_cpu_before = crate::host::cpu_seconds_of(std::process::id());
    let stream = api.stream(&key, "/api/v1/tenants/bench/erp/products/stream").await?;
    let per_record = |cpu_s: f64| cpu_s * 1e6 / stream.records.max(1) as f64;
    let host_cpu_us_per_record = per_record(crate::host::cpu_seconds_of(host.pid()) - cpu_before);
    let client_cpu_us_per_record = per_record(crate::host::cpu_seconds_of(std::process::id()) - own_cpu_before);
    anyhow::ensure!(stream.records == p.product_ids, "stream yielded {} of {}", stream.records, p.product_ids);
    println!("stream      {stream:?}");
    Ok(StreamOnly { latency_ms, stream, host_cpu_us_per_record, client_cpu_us_per_record })
}

/// enventa-sim on its own runtime thread, as its own "container": its work
/// does not queue behind the client's tasks.
fn start_sim(articles: u64, latency_ms: u64) -> anyhow::Result<std::net::SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("sim runtime");
        rt.block_on(async move {
            let sim = enventa_sim::Sim::start(enventa_sim::SimConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                admin_listen: None,
                articles,
                customers: 10_000,
                faults: enventa_sim::Faults { latency_ms, ..Default::default() },
                ..Default::default()
            })
            .await;
            match sim {
                Ok(sim) => {
                    let _ = tx.send(Ok(sim.addr));
                    std::future::pending::<()>().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
    });
    Ok(rx.recv()??)
}

async fn provider_rows(s: &Sizes, p: &Provider, publish: Option<Vec<u8>>) -> anyhow::Result<ProviderRows> {
    println!("== {} ==", p.name);
    let dir = tempfile::tempdir()?;
    let host = HostProc::start(dir.path(), &[])?;
    let api = Api::new(&host.base);
    if let Some(bytes) = publish {
        api.publish(p.plugin, "1.0.0", bytes).await?;
    }
    let socket = p.socket.as_deref();
    let key = api.bind("bench", p.plugin, "^1", p.config.clone(), socket).await?;
    let t = "/api/v1/tenants/bench";
    let mut rng = StdRng::seed_from_u64(42);
    let pid = |rng: &mut StdRng| (p.product)(rng.random_range(1..=p.product_ids));

    // Warm the connection and the instance; not measured.
    for _ in 0..100 {
        api.get(&key, &format!("{t}/erp/products/{}", pid(&mut rng))).await?;
    }

    let mut v = Vec::with_capacity(s.single);
    for _ in 0..s.single {
        v.push(api.get(&key, &format!("{t}/erp/products/{}", pid(&mut rng))).await?.0);
    }
    let single = Latency::of(v);
    println!("single      {single:?}");

    // The first batches grow the guest's heap and the host's buffers:
    // warm-up, not measured (a long-running host is past it).
    for _ in 0..20 {
        let ids: Vec<String> = (0..100).map(|_| pid(&mut rng)).collect();
        api.post(&key, &format!("{t}/erp/products/batch-get"), &json!({ "ids": ids })).await?;
    }
    let mut v = Vec::with_capacity(s.bulk);
    for _ in 0..s.bulk {
        let ids: Vec<String> = (0..100).map(|_| pid(&mut rng)).collect();
        let (d, body) = api.post(&key, &format!("{t}/erp/products/batch-get"), &json!({ "ids": ids })).await?;
        anyhow::ensure!(body["found"].as_u64() == Some(100), "bulk found all: {}", body["found"]);
        v.push(d);
    }
    let bulk100 = Latency::of(v);
    println!("bulk100     {bulk100:?}");

    // Orders need active products and customers: pick them first.
    let ids: Vec<String> = (0..500).map(|_| pid(&mut rng)).collect();
    let products = active_ids(&api, &key, &format!("{t}/erp/products/batch-get"), ids).await?;
    let ids: Vec<String> = (0..300).map(|_| (p.customer)(rng.random_range(1..=p.customers))).collect();
    let customers = active_ids(&api, &key, &format!("{t}/erp/customers/batch-get"), ids).await?;
    anyhow::ensure!(!products.is_empty() && !customers.is_empty(), "no orderable products or customers");
    let mut v = Vec::with_capacity(s.orders);
    for _ in 0..s.orders {
        let lines: Vec<Value> = (0..rng.random_range(1..=3))
            .map(|_| {
                let product = &products[rng.random_range(0..products.len())];
                json!({ "productId": product, "quantity": rng.random_range(1..=20) })
            })
            .collect();
        let order = json!({ "customerId": customers[rng.random_range(0..customers.len())], "lines": lines });
        let (d, body) = api.post(&key, &format!("{t}/erp/orders"), &order).await?;
        anyhow::ensure!(body["id"].is_string(), "order id in {body}");
        v.push(d);
    }
    let order = Latency::of(v);
    println!("order       {order:?}");

    // Time to first record, warm: the median of a few stream starts.
    let mut firsts = Vec::new();
    for _ in 0..s.first_record_samples {
        firsts.push(api.first_record(&key, &format!("{t}/erp/products/stream")).await?);
    }
    let stream_first_record_ms = Latency::of(firsts).p50_ms;
    let before = host.rss();
    let cpu_before = crate::host::cpu_seconds_of(host.pid());
    let own_cpu_before = crate::host::cpu_seconds_of(std::process::id());
    let sampler = RssSampler::start(host.pid());
    let stream = api.stream(&key, &format!("{t}/erp/products/stream")).await?;
    let peak = sampler.peak();
    drop(sampler);
    let stream_host_cpu_us_per_record =
        (crate::host::cpu_seconds_of(host.pid()) - cpu_before) * 1e6 / stream.records.max(1) as f64;
    let stream_client_cpu_us_per_record =
        (crate::host::cpu_seconds_of(std::process::id()) - own_cpu_before) * 1e6 / stream.records.max(1) as f64;
    anyhow::ensure!(stream.records == p.product_ids, "stream yielded {} of {}", stream.records, p.product_ids);
    let stream_rss_growth_mib = peak.saturating_sub(before) as f64 / MIB;
    println!("stream      {stream:?} rss growth {stream_rss_growth_mib:.1} MiB");

    // Bulk sync: real records (fetched, then renamed) so every one is a change.
    let mut records = Vec::with_capacity(s.sync_records);
    for chunk in (1..=s.sync_records as u64).collect::<Vec<_>>().chunks(1000) {
        let ids: Vec<String> = chunk.iter().map(|&i| (p.product)(i)).collect();
        let (_, body) = api.post(&key, &format!("{t}/erp/products/batch-get"), &json!({ "ids": ids })).await?;
        for item in body["items"].as_array().context("items")? {
            let mut prod = item["item"].clone();
            anyhow::ensure!(prod.is_object(), "batch item without product: {item}");
            prod["name"] = json!(format!("{} (bench)", prod["name"].as_str().unwrap_or_default()));
            records.push(prod);
        }
    }
    let sync = json!({ "products": records });
    let (d, body) = api.post(&key, &format!("{t}/erp/sync/bulk"), &sync).await?;
    let updated = body["products"]["updated"].as_u64().unwrap_or(0) + body["products"]["created"].as_u64().unwrap_or(0);
    anyhow::ensure!(updated == s.sync_records as u64, "bulk sync applied {updated}: {body}");
    let bulk_sync_ms = d.as_secs_f64() * 1e3;
    let (d2, body) = api.post(&key, &format!("{t}/erp/sync/bulk"), &sync).await?;
    anyhow::ensure!(body["products"]["unchanged"].as_u64() == Some(s.sync_records as u64), "resync unchanged: {body}");
    let bulk_sync_unchanged_ms = d2.as_secs_f64() * 1e3;
    println!("bulk sync   {bulk_sync_ms:.1} ms (unchanged again: {bulk_sync_unchanged_ms:.1} ms)");

    let throughput = throughput(s, p, &api).await?;
    println!("throughput  {throughput:?}");

    // Cold tenants: bound now (the bind pre-loads the instance; the compile
    // is cached), first request timed from the caller.
    let (mut bind, mut first, mut stream_first) = (Vec::new(), Vec::new(), Vec::new());
    let small = small_config(p);
    for k in 0..s.cold_samples {
        let tb = Instant::now();
        let key = api.bind(&format!("cold-{k}"), p.plugin, "^1", small.clone(), socket).await?;
        bind.push(tb.elapsed());
        first.push(api.get(&key, &format!("/api/v1/tenants/cold-{k}/erp/products/{}", (p.product)(1))).await?.0);
        let key = api.bind(&format!("cold-stream-{k}"), p.plugin, "^1", small.clone(), socket).await?;
        let run = api.stream(&key, &format!("/api/v1/tenants/cold-stream-{k}/erp/products/stream")).await?;
        stream_first.push(Duration::from_secs_f64(run.first_record_ms / 1e3));
    }
    let median = |v: Vec<Duration>| Latency::of(v).p50_ms;
    let rows = ProviderRows {
        provider: p.name.to_string(),
        single,
        bulk100,
        order,
        stream,
        stream_rss_growth_mib,
        stream_first_record_ms,
        stream_host_cpu_us_per_record,
        stream_client_cpu_us_per_record,
        stream_first_record_cold_ms: median(stream_first),
        bulk_sync_ms,
        bulk_sync_unchanged_ms,
        throughput,
        cold_bind_ms: median(bind),
        cold_first_request_ms: median(first),
    };
    host.stop();
    Ok(rows)
}

/// The ids among `ids` whose record is active (batch-get).
async fn active_ids(api: &Api, key: &str, path: &str, ids: Vec<String>) -> anyhow::Result<Vec<String>> {
    let (_, body) = api.post(key, path, &json!({ "ids": ids })).await?;
    Ok(body["items"]
        .as_array()
        .context("items")?
        .iter()
        .filter(|i| i["item"]["active"] == true)
        .filter_map(|i| i["id"].as_str().map(str::to_string))
        .collect())
}

/// A small data set for extra tenants (their streams are short).
fn small_config(p: &Provider) -> Value {
    let mut c = p.config.clone();
    if c.get("productCount").is_some() {
        c["productCount"] = json!(100_000);
    }
    c
}

/// `conns` client tasks over `tenants` tenants, each issuing single-product
/// GETs back to back for a fixed time.
async fn throughput(s: &Sizes, p: &Provider, api: &Api) -> anyhow::Result<Throughput> {
    let small = small_config(p);
    let ids = if p.config.get("productCount").is_some() { 100_000 } else { p.product_ids };
    let mut keys = Vec::new();
    for i in 0..s.throughput_tenants {
        keys.push((
            format!("tp-{i}"),
            api.bind(&format!("tp-{i}"), p.plugin, "^1", small.clone(), p.socket.as_deref()).await?,
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(s.throughput_secs);
    let mut tasks = Vec::new();
    for c in 0..s.throughput_conns {
        let (tenant, key) = keys[c % keys.len()].clone();
        let api = api.clone();
        let product = p.product;
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(c as u64);
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline {
                let path = format!("/api/v1/tenants/{tenant}/erp/products/{}", product(rng.random_range(1..=ids)));
                match api.get(&key, &path).await {
                    Ok((d, _)) => lat.push(d),
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let t0 = Instant::now();
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = t0.elapsed().as_secs_f64().max(s.throughput_secs as f64);
    let requests = all.len() as u64;
    Ok(Throughput {
        conns: s.throughput_conns,
        tenants: s.throughput_tenants,
        requests,
        errors,
        per_s: requests as f64 / elapsed,
        latency: Latency::of(all),
    })
}

/// RSS per active tenant: `n` tenants bound to mock-erp, each with one
/// request served (so each has a live instance and a warm actor).
async fn memory_per_tenant(s: &Sizes) -> anyhow::Result<Memory> {
    println!("== memory per tenant ({} tenants) ==", s.memory_tenants);
    let dir = tempfile::tempdir()?;
    let max = (s.memory_tenants + 64).to_string();
    let host = HostProc::start(dir.path(), &["--max-instances", &max])?;
    let api = Api::new(&host.base);
    api.get("bench-demo-key-0123456789abcdef", "/api/v1/tenants/demo/erp/products/P00000001").await?;
    let before = host.rss();
    let n = s.memory_tenants;
    futures::future::try_join_all((0..4).map(|w| {
        let api = api.clone();
        async move {
            for i in (w..n).step_by(4) {
                let tenant = format!("m-{i}");
                let key = api.bind(&tenant, "mock-erp", "^1", json!({}), None).await?;
                api.get(&key, &format!("/api/v1/tenants/{tenant}/erp/products/P00000001")).await?;
            }
            anyhow::Ok(())
        }
    }))
    .await?;
    let after = host.rss();
    host.stop();
    let m = Memory {
        tenants: n,
        rss_before_mib: before as f64 / MIB,
        rss_after_mib: after as f64 / MIB,
        per_tenant_kib: after.saturating_sub(before) as f64 / n as f64 / 1024.0,
    };
    println!("{m:?}");
    Ok(m)
}

/// Start-up with `n` distinct published plugins, each bound to a tenant:
/// first start (empty dir), then a restart (registry and compile cache on
/// disk), timed from spawn until the host listens with every tenant active.
async fn startup(s: &Sizes) -> anyhow::Result<Startup> {
    println!("== start-up with {} plugins ==", s.startup_plugins);
    let dir = tempfile::tempdir()?;
    let host = HostProc::start(dir.path(), &[])?;
    let first_start_ms = host.startup.as_secs_f64() * 1e3;
    let api = Api::new(&host.base);
    let base = std::fs::read(b2c_host::bundled::MOCK_ERP_PATH)?;
    let t = Instant::now();
    for i in 0..s.startup_plugins {
        // Distinct artifacts (own digest, own compile): the same component
        // with a custom section naming the variant.
        let name = format!("bench-plugin-{i}");
        api.publish(&name, "1.0.0", with_custom_section(&base, "b2c-bench-variant", name.as_bytes())).await?;
        api.bind(&format!("sp-{i}"), &name, "^1", json!({}), None).await?;
    }
    let publish_and_bind_ms = t.elapsed().as_secs_f64() * 1e3;
    host.stop();
    let host = HostProc::start(dir.path(), &[])?;
    let restart_ms = host.startup.as_secs_f64() * 1e3;
    let restart_ready_ms = host.ready.as_secs_f64() * 1e3;
    let api = Api::new(&host.base);
    let st = api.admin(reqwest::Method::GET, "/admin/v1/tenants", None).await?;
    let n = st["tenants"].as_array().map_or(0, |a| a.len());
    anyhow::ensure!(n > s.startup_plugins, "tenants after restart: {n}");
    host.stop();
    // A cold compile cache (a new node, an upgraded host): the host listens
    // at once and its tenants start as their plugins compile.
    std::fs::remove_dir_all(dir.path().join("compiled"))?;
    let host = HostProc::start(dir.path(), &[])?;
    let cold_restart_listen_ms = host.startup.as_secs_f64() * 1e3;
    let cold_restart_ready_ms = host.ready.as_secs_f64() * 1e3;
    host.stop();
    let r = Startup {
        plugins: s.startup_plugins,
        first_start_ms,
        publish_and_bind_ms,
        restart_ms,
        restart_ready_ms,
        cold_restart_listen_ms,
        cold_restart_ready_ms,
    };
    println!("{r:?}");
    Ok(r)
}

/// Appends a custom section (id 0) to a component: valid anywhere at the
/// top level, ignored by the runtime, but it changes the digest.
fn with_custom_section(component: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    fn leb(mut v: usize, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = component.to_vec();
    out.push(0);
    leb(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}
