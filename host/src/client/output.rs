//! How the operator CLI prints an answer: for people by default (aligned
//! tables, short summaries), or the admin API's answer unchanged as JSON or
//! YAML for scripts (`-o json|yaml`). Tables read the same JSON a script
//! gets, so the two cannot disagree.

pub use crate::cli::Output;
use serde_json::Value;
use std::fmt::Write;

/// Prints `answer` as `output` asks; `table` renders it for people.
pub fn emit(output: Output, answer: &Value, table: fn(&Value) -> String) {
    let text = match output {
        Output::Table => table(answer),
        Output::Json => serde_json::to_string_pretty(answer).unwrap_or_default() + "\n",
        // A JSON value always has a YAML form; the fallback is unreachable
        // in practice and still prints something a script can parse.
        Output::Yaml => serde_yaml_ng::to_string(answer).unwrap_or_else(|_| answer.to_string() + "\n"),
    };
    print!("{text}");
}

/// Columns aligned to their widest cell, two spaces apart; the last column
/// is not padded (no trailing blanks).
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self { rows: vec![headers.iter().map(|h| h.to_string()).collect()] }
    }

    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.rows.push(cells);
        self
    }

    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let width: Vec<usize> = (0..cols)
            .map(|c| self.rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for r in &self.rows {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                if c + 1 < r.len() {
                    let _ = write!(line, "{cell:<w$}  ", w = width[c]);
                } else {
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A field as text: strings bare, null as "-", anything else as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn list(v: &Value) -> String {
    match v.as_array() {
        Some(a) if !a.is_empty() => a.iter().map(text).collect::<Vec<_>>().join(","),
        _ => "-".into(),
    }
}

fn yes_no(v: &Value) -> String {
    if v.as_bool().unwrap_or(false) { "yes" } else { "no" }.into()
}

/// The first 12 hex digits of a digest: enough to tell versions apart.
fn short(v: &Value) -> String {
    text(v).chars().take(12).collect()
}

/// `key  value` lines, keys aligned.
fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs.iter().map(|(k, v)| format!("{k:<w$}  {v}\n")).collect()
}

/// `GET /admin/v1/plugins`.
pub fn plugin_list(v: &Value) -> String {
    let mut t = Table::new(&["NAME", "LATEST", "VERSIONS", "YANKED"]);
    for p in v["plugins"].as_array().into_iter().flatten() {
        t.row(vec![text(&p["name"]), text(&p["latest"]), list(&p["versions"]), list(&p["yanked"])]);
    }
    t.render()
}

const VERSION_COLUMNS: [&str; 7] = ["VERSION", "DIGEST", "CONTRACT", "EXPORTS", "COMPATIBLE", "YANKED", "PUBLISHED"];

fn version_row(v: &Value) -> Vec<String> {
    vec![
        text(&v["version"]),
        short(&v["sha256"]),
        text(&v["contractVersion"]),
        list(&v["exports"]),
        yes_no(&v["compatibleWithHost"]),
        yes_no(&v["yanked"]),
        text(&v["publishedAt"]),
    ]
}

/// `GET /admin/v1/plugins/{name}`: one row per version, newest first.
pub fn plugin(v: &Value) -> String {
    let mut t = Table::new(&VERSION_COLUMNS);
    for version in v["versions"].as_array().into_iter().flatten() {
        t.row(version_row(version));
    }
    format!("plugin {}\n{}", text(&v["name"]), t.render())
}

/// One version (show, publish, yank, unyank).
pub fn version(v: &Value) -> String {
    fields(&[
        ("plugin", format!("{}@{}", text(&v["name"]), text(&v["version"]))),
        ("sha256", text(&v["sha256"])),
        ("size", format!("{} bytes", text(&v["size"]))),
        ("contract", text(&v["contractVersion"])),
        ("exports", list(&v["exports"])),
        ("compatible", yes_no(&v["compatibleWithHost"])),
        ("yanked", yes_no(&v["yanked"])),
        ("published", format!("{} by {}", text(&v["publishedAt"]), text(&v["publishedBy"]))),
        ("imports", format!("{} interfaces (-o json lists them)", v["imports"].as_array().map_or(0, Vec::len))),
    ])
}

fn pin(b: &Value, kind: &str) -> String {
    let p = &b["pins"][kind];
    if p.is_null() { "-".into() } else { format!("{}@{}", text(&p["plugin"]), text(&p["version"])) }
}

/// `GET /admin/v1/tenants`.
pub fn tenant_list(v: &Value) -> String {
    let mut t = Table::new(&["TENANT", "ERP", "CRM", "PIM", "BINDING", "BOUND"]);
    for tenant in v["tenants"].as_array().into_iter().flatten() {
        let b = &tenant["binding"];
        t.row(vec![
            text(&tenant["id"]),
            pin(b, "erp"),
            pin(b, "crm"),
            pin(b, "pim"),
            if b.is_null() { "-".into() } else { format!("#{}", text(&b["id"])) },
            text(&b["createdAt"]),
        ]);
    }
    t.render()
}

/// `GET /admin/v1/tenants/{tenant}` (and bind, rollback): the pins first,
/// then what an operator decides on; config values are not printed (they
/// may be secrets; `-o json` has them).
pub fn tenant(v: &Value) -> String {
    let b = &v["binding"];
    let config = b["config"].as_object();
    let limits: Vec<String> = config
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("limits."))
        .map(|(k, val)| format!("{k}={}", text(val)))
        .collect();
    let settings: Vec<&str> =
        config.into_iter().flatten().map(|(k, _)| k.as_str()).filter(|k| !k.starts_with("limits.")).collect();
    let mut out = fields(&[
        ("tenant", text(&v["tenant"])),
        (
            "binding",
            if b.is_null() {
                "none".into()
            } else {
                format!("#{} since {} by {}", text(&b["id"]), text(&b["createdAt"]), text(&b["createdBy"]))
            },
        ),
        ("socket", text(&b["socket"])),
        ("limits", if limits.is_empty() { "host defaults".into() } else { limits.join(" ") }),
        ("config", if settings.is_empty() { "-".into() } else { format!("{} (values: -o json)", settings.join(", ")) }),
        ("history", format!("{} bindings", v["history"].as_array().map_or(0, Vec::len))),
    ]);
    let mut pins = Table::new(&["KIND", "PLUGIN", "VERSION", "REQUIREMENT", "DIGEST"]);
    for (kind, p) in b["pins"].as_object().into_iter().flatten() {
        pins.row(vec![
            kind.clone(),
            text(&p["plugin"]),
            text(&p["version"]),
            text(&p["requirement"]),
            short(&p["sha256"]),
        ]);
    }
    out.push('\n');
    out.push_str(&pins.render());
    if let Some(live) = v["providers"].as_array().filter(|a| !a.is_empty()) {
        let mut t = Table::new(&["KINDS", "STATE", "BREAKER", "QUEUE", "CALLS", "RESTARTS", "LAST ERROR"]);
        for p in live {
            t.row(vec![
                list(&p["kinds"]),
                text(&p["state"]),
                text(&p["breaker"]),
                text(&p["queueDepth"]),
                text(&p["calls"]),
                text(&p["restarts"]),
                if p["lastError"].is_string() {
                    format!("{} {}", text(&p["lastErrorAt"]), text(&p["lastError"]))
                } else {
                    "-".into()
                },
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    let mut keys = Table::new(&["KEY", "LABEL", "CREATED", "REVOKED"]);
    for k in v["apiKeys"].as_array().into_iter().flatten() {
        keys.row(vec![text(&k["id"]), text(&k["label"]), text(&k["createdAt"]), text(&k["revokedAt"])]);
    }
    out.push('\n');
    out.push_str(&keys.render());
    out
}

/// `GET /admin/v1/audit`: newest first.
pub fn audit(v: &Value) -> String {
    let mut t = Table::new(&["TIME", "ACTOR", "ACTION", "SUBJECT", "DETAIL"]);
    for e in v["entries"].as_array().into_iter().flatten() {
        t.row(vec![text(&e["at"]), text(&e["actor"]), text(&e["action"]), text(&e["subject"]), text(&e["detail"])]);
    }
    t.render()
}

/// A created key: shown once.
pub fn created_key(v: &Value) -> String {
    fields(&[
        ("id", text(&v["id"])),
        ("tenant", text(&v["tenant"])),
        ("label", text(&v["label"])),
        ("key", text(&v["key"])),
    ])
}

pub fn revoked_key(v: &Value) -> String {
    format!("revoked {} of tenant {}\n", text(&v["id"]), text(&v["tenant"]))
}

pub fn sync_reset(v: &Value) -> String {
    format!(
        "tenant {}: forgot {} synced records; the next sync sends every record again\n",
        text(&v["tenant"]),
        text(&v["forgotten"])
    )
}

/// `plugin check`: rule, result, and the detail (the first counter-example
/// of a failure), then a count.
pub fn conformance(v: &Value) -> String {
    let mut t = Table::new(&["RULE", "RESULT", "DETAIL"]);
    let (mut pass, mut fail, mut skip) = (0, 0, 0);
    for r in v.as_array().into_iter().flatten() {
        let outcome = text(&r["outcome"]);
        match outcome.as_str() {
            "pass" => pass += 1,
            "fail" => fail += 1,
            _ => skip += 1,
        }
        // One line per rule: a multi-line counter-example is joined.
        let detail = text(&r["detail"]).replace('\n', " / ");
        t.row(vec![text(&r["rule"]), outcome, detail]);
    }
    format!("{}{pass} passed, {fail} failed, {skip} skipped\n", t.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_align_and_lines_have_no_trailing_blanks() {
        let mut t = Table::new(&["NAME", "LATEST"]);
        t.row(vec!["mock-erp".into(), "1.0.0".into()]).row(vec!["x".into(), "-".into()]);
        assert_eq!(t.render(), "NAME      LATEST\nmock-erp  1.0.0\nx         -\n");
    }

    #[test]
    fn a_plugin_list_reads_the_api_answer() {
        let v =
            json!({"plugins": [{"name": "a", "latest": "1.1.0", "versions": ["1.2.0", "1.1.0"], "yanked": ["1.2.0"]}]});
        assert_eq!(plugin_list(&v), "NAME  LATEST  VERSIONS     YANKED\na     1.1.0   1.2.0,1.1.0  1.2.0\n");
    }

    #[test]
    fn tenant_show_never_prints_config_values() {
        let v = json!({"tenant": "t", "binding": {"id": 2, "createdAt": "2026-11-28T00:00:00Z", "createdBy": "op",
            "socket": null, "config": {"password": "s3cret", "limits.callTimeoutMs": "500"},
            "pins": {"erp": {"plugin": "p", "version": "1.0.0", "requirement": "^1", "sha256": "ab".repeat(32)}}},
            "history": [{}, {}], "apiKeys": [], "sync": []});
        let out = tenant(&v);
        assert!(!out.contains("s3cret"), "{out}");
        assert!(out.contains("limits   limits.callTimeoutMs=500"), "{out}");
        assert!(out.contains("config   password (values: -o json)"), "{out}");
        assert!(out.contains("erp   p       1.0.0    ^1           abababababab"), "{out}");
    }
}
