//! The operator CLI (`b2c-host plugin …`, `tenant …`, `audit`): a thin
//! client of the `/admin/v1` HTTP API, so a terminal and a script see the
//! same validation and the same audit trail. `output.rs` prints answers
//! for people (tables) or scripts (`-o json|yaml`).
//!
//! Exit codes (README, "Operating the registry"): 0 done; 1 the host
//! refused or failed the request; 2 usage (bad flags or arguments); 3 the
//! host could not be reached; 4 not found; 5 conflict. Errors go to stderr
//! in one line.

pub mod output;
pub mod top;

use crate::cli::{Connection, PluginCommand, TenantCommand};
use output::{Output, emit};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    File { path: String, source: std::io::Error },
    /// A local step failed (nothing was sent to a host).
    #[error("{0}")]
    Local(String),
    #[error("cannot reach {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    /// The host answered with a problem: its status, `type` slug and detail.
    #[error("{status} {slug}: {detail}")]
    Api { status: u16, slug: String, detail: String },
}

impl ClientError {
    /// The process exit code scripts can rely on (see the module doc).
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(_) => 2,
            ClientError::Http { .. } => 3,
            ClientError::Api { status: 404, .. } => 4,
            ClientError::Api { status: 409, .. } => 5,
            ClientError::Api { .. } | ClientError::File { .. } | ClientError::Local(_) => 1,
        }
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    output: Output,
}

impl Client {
    fn new(conn: &Connection) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: conn.url.trim_end_matches('/').to_string(),
            token: conn.admin_token.clone(),
            output: conn.output,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder, url: &str) -> Result<reqwest::Response, ClientError> {
        let res = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| ClientError::Http { url: url.into(), source })?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let slug = body["type"].as_str().and_then(|t| t.rsplit(':').next()).unwrap_or("error").to_string();
        let detail = body["detail"].as_str().map(str::to_string).unwrap_or_else(|| body.to_string());
        // One line on stderr, whatever the host put in the detail.
        let detail = detail.split_whitespace().collect::<Vec<_>>().join(" ");
        Err(ClientError::Api { status, slug, detail })
    }

    async fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = self.send(req, &url).await?;
        res.json().await.map_err(|source| ClientError::Http { url, source })
    }

    /// `method path` and print the answer (`table` for people).
    async fn show(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        table: fn(&Value) -> String,
    ) -> Result<Value, ClientError> {
        let v = self.json(method, path, body).await?;
        emit(self.output, &v, table);
        Ok(v)
    }
}

/// Splits "plugin@requirement" (requirement defaults to "*").
fn kind_arg(flag: &str, v: &Option<String>) -> Result<Option<Value>, ClientError> {
    let Some(v) = v else { return Ok(None) };
    let (plugin, req) = v.split_once('@').unwrap_or((v.as_str(), "*"));
    if plugin.is_empty() || req.is_empty() {
        return Err(ClientError::Usage(format!("--{flag} expects PLUGIN@REQUIREMENT, e.g. mock-erp@^1")));
    }
    Ok(Some(json!({ "plugin": plugin, "version": req })))
}

/// The upload body in up to four parts, saying on stderr (for people) how
/// much the HTTP client has taken, and when it has all of it: from then on
/// the host is checking and compiling, which is where a large component
/// spends most of its time.
fn staged_upload(
    bytes: bytes::Bytes,
    report: bool,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    use futures::StreamExt;
    let len = bytes.len();
    let part = len.div_ceil(4).max(1 << 20);
    let parts: Vec<bytes::Bytes> = (0..len).step_by(part).map(|at| bytes.slice(at..len.min(at + part))).collect();
    let mut sent = 0;
    // The last part is the last thing polled: with a Content-Length the
    // client stops asking once it has that many bytes.
    futures::stream::iter(parts).map(move |p| {
        sent += p.len();
        if report && sent < len {
            eprintln!("  uploaded {sent} of {len} bytes");
        } else if report {
            eprintln!("  uploaded {len} bytes; the host is checking and compiling the component…");
        }
        Ok(p)
    })
}

/// Progress for people on stderr; scripts (`-o json|yaml`) get none.
fn progress(c: &Client, line: impl std::fmt::Display) {
    if c.output == Output::Table {
        eprintln!("{line}");
    }
}

pub async fn plugin(cmd: PluginCommand) -> Result<(), ClientError> {
    use reqwest::Method;
    match cmd {
        PluginCommand::New { name, kinds, dir } => {
            let dir = dir.unwrap_or_else(|| std::path::PathBuf::from(&name));
            let files = crate::scaffold::new_plugin(&name, &kinds, &dir).map_err(|e| match e {
                crate::scaffold::ScaffoldError::Name(_) => ClientError::Usage(e.to_string()),
                _ => ClientError::Local(e.to_string()),
            })?;
            let mut kinds: Vec<_> = kinds.iter().map(|k| k.as_str()).collect();
            kinds.sort_by_key(|k| ["erp", "crm", "pim"].iter().position(|x| x == k));
            kinds.dedup();
            println!("created {} ({} files): a {} provider on the SDK", dir.display(), files.len(), kinds.join("+"));
            println!("next: cd {} && cargo test && cargo build --release --target wasm32-wasip2", dir.display());
        }
        PluginCommand::Check { file, config, socket, writes, timeout_secs, call_timeout_ms, output } => {
            let bytes = std::fs::read(&file)
                .map_err(|source| ClientError::File { path: file.display().to_string(), source })?;
            let opts = crate::conformance::CheckOptions {
                socket,
                writes,
                config: parse_config(&config)?.into_iter().collect(),
                deadline: std::time::Duration::from_secs(timeout_secs),
                ..Default::default()
            };
            let settings = crate::actor::ActorSettings {
                call_timeout: std::time::Duration::from_millis(call_timeout_ms),
                ..Default::default()
            };
            let results = crate::conformance::check(&bytes, settings, &opts)
                .await
                .map_err(|e| ClientError::Local(e.to_string()))?;
            let answer = serde_json::to_value(&results).unwrap_or_default();
            emit(output, &answer, output::conformance);
            let failed = results.iter().filter(|r| matches!(r.outcome, crate::conformance::Outcome::Fail(_))).count();
            if failed > 0 {
                return Err(ClientError::Local(format!("{failed} of {} rules failed", results.len())));
            }
        }
        PluginCommand::Publish { conn, file, name, version } => {
            let c = Client::new(&conn);
            let bytes = std::fs::read(&file)
                .map_err(|source| ClientError::File { path: file.display().to_string(), source })?;
            let url = format!("{}/admin/v1/plugins/{name}/versions/{version}", c.base);
            let digest = crate::util::sha256_hex(&bytes);
            progress(
                &c,
                format_args!("uploading {} ({} bytes, sha256 {})", file.display(), bytes.len(), &digest[..12]),
            );
            let len = bytes.len();
            let req = c
                .http
                .put(&url)
                .header("content-type", "application/wasm")
                .header("content-length", len)
                .header("x-content-sha256", digest)
                .body(reqwest::Body::wrap_stream(staged_upload(bytes.into(), c.output == Output::Table)));
            let res = c.send(req, &url).await?;
            let created = res.status() == reqwest::StatusCode::CREATED;
            let v: Value = res.json().await.map_err(|source| ClientError::Http { url, source })?;
            progress(
                &c,
                if created {
                    "published: checked, compiled and stored"
                } else {
                    "already published with the same bytes"
                },
            );
            emit(c.output, &v, output::version);
        }
        PluginCommand::List { conn } => {
            Client::new(&conn).show(Method::GET, "/admin/v1/plugins", None, output::plugin_list).await?;
        }
        PluginCommand::Show { conn, name, version } => {
            let (path, table): (_, fn(&Value) -> String) = match version {
                Some(v) => (format!("/admin/v1/plugins/{name}/versions/{v}"), output::version),
                None => (format!("/admin/v1/plugins/{name}"), output::plugin),
            };
            Client::new(&conn).show(Method::GET, &path, None, table).await?;
        }
        PluginCommand::Download { conn, name, version, file } => {
            let c = Client::new(&conn);
            let url = format!("{}/admin/v1/plugins/{name}/versions/{version}/artifact", c.base);
            let res = c.send(c.http.get(&url), &url).await?;
            let bytes = res.bytes().await.map_err(|source| ClientError::Http { url, source })?;
            b2c_registry::atomic_file::write(&file, &bytes).map_err(|e| ClientError::File {
                path: file.display().to_string(),
                source: std::io::Error::other(e),
            })?;
            eprintln!("wrote {} bytes to {}", bytes.len(), file.display());
        }
        PluginCommand::Yank { conn, name, version } => {
            let path = format!("/admin/v1/plugins/{name}/versions/{version}/yank");
            Client::new(&conn).show(Method::POST, &path, None, output::version).await?;
        }
        PluginCommand::Unyank { conn, name, version } => {
            let path = format!("/admin/v1/plugins/{name}/versions/{version}/unyank");
            Client::new(&conn).show(Method::POST, &path, None, output::version).await?;
        }
    }
    Ok(())
}

pub async fn tenant(cmd: TenantCommand) -> Result<(), ClientError> {
    use reqwest::Method;
    match cmd {
        TenantCommand::Bind { conn, tenant, erp, crm, pim, config, socket } => {
            let cfg: serde_json::Map<String, Value> =
                parse_config(&config)?.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let mut body = json!({ "config": cfg });
            for (flag, v) in [("erp", &erp), ("crm", &crm), ("pim", &pim)] {
                if let Some(k) = kind_arg(flag, v)? {
                    body[flag] = k;
                }
            }
            if let Some(s) = socket {
                body["socket"] = Value::String(s);
            }
            let c = Client::new(&conn);
            progress(&c, format_args!("binding {tenant}: resolving versions and loading the plugins…"));
            let v = c.json(Method::PUT, &format!("/admin/v1/tenants/{tenant}"), Some(body)).await?;
            // The host answers only once every instance is loaded and live.
            for (kind, p) in v["binding"]["pins"].as_object().into_iter().flatten() {
                progress(
                    &c,
                    format_args!(
                        "{kind}: {} resolved to {}@{}, instance warm",
                        p["requirement"].as_str().unwrap_or("?"),
                        p["plugin"].as_str().unwrap_or("?"),
                        p["version"].as_str().unwrap_or("?")
                    ),
                );
            }
            emit(c.output, &v, output::tenant);
        }
        TenantCommand::Show { conn, tenant } => {
            Client::new(&conn).show(Method::GET, &format!("/admin/v1/tenants/{tenant}"), None, output::tenant).await?;
        }
        TenantCommand::List { conn } => {
            Client::new(&conn).show(Method::GET, "/admin/v1/tenants", None, output::tenant_list).await?;
        }
        TenantCommand::Rollback { conn, tenant } => {
            let path = format!("/admin/v1/tenants/{tenant}/rollback");
            Client::new(&conn).show(Method::POST, &path, None, output::tenant).await?;
        }
        TenantCommand::Resync { conn, tenant } => {
            let path = format!("/admin/v1/tenants/{tenant}/sync/reset");
            Client::new(&conn).show(Method::POST, &path, None, output::sync_reset).await?;
        }
        TenantCommand::CreateKey { conn, tenant, label } => {
            let body = label.map(|l| json!({ "label": l })).unwrap_or_else(|| json!({}));
            let c = Client::new(&conn);
            c.show(Method::POST, &format!("/admin/v1/tenants/{tenant}/api-keys"), Some(body), output::created_key)
                .await?;
            eprintln!("the key is shown once; store it now");
        }
        TenantCommand::RevokeKey { conn, tenant, key_id } => {
            let path = format!("/admin/v1/tenants/{tenant}/api-keys/{key_id}");
            Client::new(&conn).show(Method::DELETE, &path, None, output::revoked_key).await?;
        }
    }
    Ok(())
}

pub async fn audit(conn: Connection, limit: u32) -> Result<(), ClientError> {
    let path = format!("/admin/v1/audit?limit={limit}");
    Client::new(&conn).show(reqwest::Method::GET, &path, None, output::audit).await?;
    Ok(())
}

/// `--config KEY=VALUE` flags as pairs, in order (a later key wins where
/// they are collected into a map).
fn parse_config(flags: &[String]) -> Result<Vec<(String, String)>, ClientError> {
    flags
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| ClientError::Usage(format!("--config expects KEY=VALUE, got {kv:?}")))
        })
        .collect()
}
