//! The HTTP client side of the benchmark: what B2Connect's core system and
//! an operator would send, timed from the caller's side of the socket.

use crate::host::ADMIN;
use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

/// p50/p99 of a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Latency {
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let n = samples.len();
        let at = |q: f64| samples.get(((n as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or_default();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Self { n, p50_ms: ms(at(0.50)), p99_ms: ms(at(0.99)), max_ms: ms(samples.last().copied().unwrap_or_default()) }
    }
}

/// What one stream read yielded.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct StreamRun {
    pub records: u64,
    pub first_record_ms: f64,
    pub total_s: f64,
    pub records_per_s: f64,
}

impl Api {
    pub fn new(base: &str) -> Self {
        let http =
            reqwest::Client::builder().pool_max_idle_per_host(256).tcp_nodelay(true).build().expect("HTTP client");
        Self { http, base: base.to_string() }
    }

    async fn check(r: reqwest::Response, what: &str) -> anyhow::Result<Value> {
        let status = r.status();
        let body = r.bytes().await?;
        if !status.is_success() {
            bail!("{what}: {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(if body.is_empty() { Value::Null } else { serde_json::from_slice(&body)? })
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(ADMIN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::check(req.send().await?, path).await
    }

    pub async fn publish(&self, name: &str, version: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let r = self
            .http
            .put(format!("{}/admin/v1/plugins/{name}/versions/{version}", self.base))
            .bearer_auth(ADMIN)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await?;
        Self::check(r, "publish").await.map(|_| ())
    }

    /// Binds `tenant` (all kinds to `plugin@req`) and returns a new API key.
    pub async fn bind(
        &self,
        tenant: &str,
        plugin: &str,
        req: &str,
        config: Value,
        socket: Option<&str>,
    ) -> anyhow::Result<String> {
        let kind = json!({ "plugin": plugin, "version": req });
        let mut body = json!({ "erp": kind, "crm": kind, "pim": kind, "config": config });
        if let Some(s) = socket {
            body["socket"] = json!(s);
        }
        self.admin(reqwest::Method::PUT, &format!("/admin/v1/tenants/{tenant}"), Some(body)).await?;
        let k = self.admin(reqwest::Method::POST, &format!("/admin/v1/tenants/{tenant}/api-keys"), None).await?;
        k["key"].as_str().map(str::to_string).context("api key in answer")
    }

    /// Sends `req`, timed from the send to the last body byte (parsing is
    /// the caller's and not timed); fails on a non-2xx answer.
    async fn timed(req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<(Duration, bytes::Bytes)> {
        let t = Instant::now();
        let r = req.send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        let elapsed = t.elapsed();
        if !status.is_success() {
            bail!("{what}: {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok((elapsed, body))
    }

    /// One GET, timed to the last body byte.
    pub async fn get(&self, key: &str, path: &str) -> anyhow::Result<(Duration, bytes::Bytes)> {
        Self::timed(self.http.get(format!("{}{path}", self.base)).bearer_auth(key), &format!("GET {path}")).await
    }

    /// One POST of JSON, timed to the last body byte.
    pub async fn post(&self, key: &str, path: &str, body: &Value) -> anyhow::Result<(Duration, Value)> {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body)?);
        let (elapsed, body) = Self::timed(req, &format!("POST {path}")).await?;
        Ok((elapsed, serde_json::from_slice(&body)?))
    }

    /// Time from sending a stream request to its first complete record;
    /// then hangs up (the host stops pulling).
    pub async fn first_record(&self, key: &str, path: &str) -> anyhow::Result<Duration> {
        let t = Instant::now();
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(key).send().await?;
        if !r.status().is_success() {
            let s = r.status();
            bail!("GET {path}: {s}: {}", r.text().await.unwrap_or_default());
        }
        let mut body = r.bytes_stream();
        while let Some(chunk) = body.next().await {
            if chunk?.contains(&b'\n') {
                return Ok(t.elapsed());
            }
        }
        bail!("stream {path} ended without a record")
    }

    /// Reads an NDJSON stream to its end, counting records without parsing
    /// them (the client must not be the bottleneck), and checks the last
    /// line is a record, not the stream's error line.
    pub async fn stream(&self, key: &str, path: &str) -> anyhow::Result<StreamRun> {
        let t = Instant::now();
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(key).send().await?;
        if !r.status().is_success() {
            let s = r.status();
            bail!("GET {path}: {s}: {}", r.text().await.unwrap_or_default());
        }
        let mut body = r.bytes_stream();
        let mut records = 0u64;
        let mut first = None;
        let mut tail: Vec<u8> = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            let n = chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            if n > 0 && first.is_none() {
                first = Some(t.elapsed());
            }
            records += n;
            // Keep only the last line for the error check.
            if let Some(pos) = chunk[..chunk.len().saturating_sub(1)].iter().rposition(|&b| b == b'\n') {
                tail.clear();
                tail.extend_from_slice(&chunk[pos + 1..]);
            } else {
                tail.extend_from_slice(&chunk);
            }
        }
        let total = t.elapsed();
        if tail.windows(8).any(|w| w == b"\"error\"") {
            bail!("stream {path} ended with an error line: {}", String::from_utf8_lossy(&tail));
        }
        Ok(StreamRun {
            records,
            first_record_ms: first.unwrap_or(total).as_secs_f64() * 1e3,
            total_s: total.as_secs_f64(),
            records_per_s: records as f64 / total.as_secs_f64(),
        })
    }
}
