//! The operator CLI (`b2c-host plugin …`, `tenant …`, `audit`): a thin
//! client of the `/admin/v1` HTTP API, so a terminal and a script see the
//! same validation and the same audit trail.

use crate::cli::{Connection, PluginCommand, TenantCommand};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Usage(String),
    #[error("reading {path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("cannot reach {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{status}: {detail}")]
    Api { status: u16, detail: String },
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn new(conn: &Connection) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: conn.url.trim_end_matches('/').to_string(),
            token: conn.admin_token.clone(),
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
        let detail = body["detail"].as_str().map(str::to_string).unwrap_or_else(|| body.to_string());
        Err(ClientError::Api { status, detail })
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
}

fn print(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
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

pub async fn plugin(cmd: PluginCommand) -> Result<(), ClientError> {
    match cmd {
        PluginCommand::Publish { conn, file, name, version } => {
            let c = Client::new(&conn);
            let bytes = std::fs::read(&file)
                .map_err(|source| ClientError::File { path: file.display().to_string(), source })?;
            let url = format!("{}/admin/v1/plugins/{name}/versions/{version}", c.base);
            let digest = crate::util::sha256_hex(&bytes);
            let req = c
                .http
                .put(&url)
                .header("content-type", "application/wasm")
                .header("x-content-sha256", digest)
                .body(bytes);
            let res = c.send(req, &url).await?;
            let created = res.status() == reqwest::StatusCode::CREATED;
            let v: Value = res.json().await.map_err(|source| ClientError::Http { url, source })?;
            eprintln!("{}", if created { "published" } else { "already published with the same bytes" });
            print(&v);
        }
        PluginCommand::List { conn } => {
            print(&Client::new(&conn).json(reqwest::Method::GET, "/admin/v1/plugins", None).await?)
        }
        PluginCommand::Show { conn, name, version } => {
            let path = match version {
                Some(v) => format!("/admin/v1/plugins/{name}/versions/{v}"),
                None => format!("/admin/v1/plugins/{name}"),
            };
            print(&Client::new(&conn).json(reqwest::Method::GET, &path, None).await?)
        }
        PluginCommand::Download { conn, name, version, output } => {
            let c = Client::new(&conn);
            let url = format!("{}/admin/v1/plugins/{name}/versions/{version}/artifact", c.base);
            let res = c.send(c.http.get(&url), &url).await?;
            let bytes = res.bytes().await.map_err(|source| ClientError::Http { url, source })?;
            b2c_registry::atomic_file::write(&output, &bytes).map_err(|e| ClientError::File {
                path: output.display().to_string(),
                source: std::io::Error::other(e),
            })?;
            eprintln!("wrote {} bytes to {}", bytes.len(), output.display());
        }
        PluginCommand::Yank { conn, name, version } => print(
            &Client::new(&conn)
                .json(reqwest::Method::POST, &format!("/admin/v1/plugins/{name}/versions/{version}/yank"), None)
                .await?,
        ),
        PluginCommand::Unyank { conn, name, version } => print(
            &Client::new(&conn)
                .json(reqwest::Method::POST, &format!("/admin/v1/plugins/{name}/versions/{version}/unyank"), None)
                .await?,
        ),
    }
    Ok(())
}

pub async fn tenant(cmd: TenantCommand) -> Result<(), ClientError> {
    match cmd {
        TenantCommand::Bind { conn, tenant, erp, crm, pim, config, socket } => {
            let mut cfg = serde_json::Map::new();
            for kv in config {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| ClientError::Usage(format!("--config expects KEY=VALUE, got {kv:?}")))?;
                cfg.insert(k.to_string(), Value::String(v.to_string()));
            }
            let mut body = json!({ "config": cfg });
            for (flag, v) in [("erp", &erp), ("crm", &crm), ("pim", &pim)] {
                if let Some(k) = kind_arg(flag, v)? {
                    body[flag] = k;
                }
            }
            if let Some(s) = socket {
                body["socket"] = Value::String(s);
            }
            print(
                &Client::new(&conn)
                    .json(reqwest::Method::PUT, &format!("/admin/v1/tenants/{tenant}"), Some(body))
                    .await?,
            )
        }
        TenantCommand::Show { conn, tenant } => {
            print(&Client::new(&conn).json(reqwest::Method::GET, &format!("/admin/v1/tenants/{tenant}"), None).await?)
        }
        TenantCommand::List { conn } => {
            print(&Client::new(&conn).json(reqwest::Method::GET, "/admin/v1/tenants", None).await?)
        }
        TenantCommand::Rollback { conn, tenant } => print(
            &Client::new(&conn)
                .json(reqwest::Method::POST, &format!("/admin/v1/tenants/{tenant}/rollback"), None)
                .await?,
        ),
        TenantCommand::Resync { conn, tenant } => print(
            &Client::new(&conn)
                .json(reqwest::Method::POST, &format!("/admin/v1/tenants/{tenant}/sync/reset"), None)
                .await?,
        ),
        TenantCommand::CreateKey { conn, tenant, label } => {
            let body = label.map(|l| json!({ "label": l })).unwrap_or_else(|| json!({}));
            let v = Client::new(&conn)
                .json(reqwest::Method::POST, &format!("/admin/v1/tenants/{tenant}/api-keys"), Some(body))
                .await?;
            eprintln!("the key is shown once; store it now");
            print(&v)
        }
        TenantCommand::RevokeKey { conn, tenant, key_id } => print(
            &Client::new(&conn)
                .json(reqwest::Method::DELETE, &format!("/admin/v1/tenants/{tenant}/api-keys/{key_id}"), None)
                .await?,
        ),
    }
    Ok(())
}

pub async fn audit(conn: Connection, limit: u32) -> Result<(), ClientError> {
    print(&Client::new(&conn).json(reqwest::Method::GET, &format!("/admin/v1/audit?limit={limit}"), None).await?);
    Ok(())
}
