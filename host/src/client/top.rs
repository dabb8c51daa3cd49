//! `b2c-host top`: a live view of every tenant, redrawn every interval
//! from `GET /admin/v1/stats` (one request per frame, so watching costs the
//! host next to nothing). On a terminal each frame replaces the last; into
//! a pipe, frames follow each other separated by a blank line.

use super::output::Table;
use super::{Client, ClientError};
pub use crate::cli::SortKey;
use crate::cli::TopArgs;
use serde_json::Value;
use std::io::{IsTerminal, Write};

/// Clears the terminal and homes the cursor (ANSI), before each frame.
pub const CLEAR: &str = "\x1b[H\x1b[2J";

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn ms(v: &Value) -> String {
    v.as_f64().map_or_else(|| "-".into(), |m| format!("{m:.2}"))
}

/// One frame of the view, from the `/admin/v1/stats` answer.
pub fn frame(stats: &Value, sort: SortKey, header: &str) -> String {
    let mut tenants: Vec<&Value> = stats["tenants"].as_array().into_iter().flatten().collect();
    let key = |t: &Value| match sort {
        SortKey::Rps => num(&t["requestsPerSec"]),
        SortKey::P99 => num(&t["p99Ms"]),
        SortKey::Errors => num(&t["errorRate"]),
        SortKey::Queue => num(&t["queueDepth"]),
        SortKey::Restarts => num(&t["restarts"]),
        SortKey::Tenant => 0.0,
    };
    // Busiest first; ties (and `tenant`) by id, so rows do not jump.
    tenants.sort_by(|a, b| key(b).total_cmp(&key(a)).then_with(|| a["tenant"].as_str().cmp(&b["tenant"].as_str())));
    let mut t =
        Table::new(&["TENANT", "REQ/S", "P50MS", "P99MS", "ERR%", "CACHE%", "QUEUE", "RESTARTS", "BREAKER", "TOTAL"]);
    for v in tenants {
        t.row(vec![
            v["tenant"].as_str().unwrap_or("?").to_string(),
            format!("{:.1}", num(&v["requestsPerSec"])),
            ms(&v["p50Ms"]),
            ms(&v["p99Ms"]),
            format!("{:.1}", num(&v["errorRate"]) * 100.0),
            v["cacheHitRatio"].as_f64().map_or_else(|| "-".into(), |r| format!("{:.0}", r * 100.0)),
            num(&v["queueDepth"]).to_string(),
            num(&v["restarts"]).to_string(),
            v["breaker"].as_str().unwrap_or("-").to_string(),
            num(&v["requests"]).to_string(),
        ]);
    }
    format!("{header}\n\n{}", t.render())
}

pub async fn run(args: TopArgs) -> Result<(), ClientError> {
    let c = Client::new(&args.conn);
    let terminal = std::io::stdout().is_terminal();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(args.interval_ms));
    // A slow answer delays the next frame instead of drawing the missed
    // ones back to back: each frame is at least an interval after the last.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let answer = c.json(reqwest::Method::GET, "/admin/v1/stats", None).await;
        let now = crate::api::model::format_ts(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64),
        );
        let text = match &answer {
            // For scripts: the route's answer, one document per frame.
            Ok(stats) if c.output != super::output::Output::Table => {
                super::output::emit(c.output, stats, |_| String::new());
                if args.once {
                    return Ok(());
                }
                continue;
            }
            Ok(stats) => {
                let window = stats["windowSeconds"].as_u64().unwrap_or(0);
                let quit = if args.once { "" } else { " (Ctrl-C quits)" };
                let header = format!(
                    "b2c-host top  {}  {now}  figures over {window} s, sorted by {:?}{quit}",
                    c.base, args.sort
                );
                frame(stats, args.sort, &header)
            }
            // With --once a failure is the command's; live, the view says
            // so and keeps trying (the host may be restarting).
            Err(e) if !args.once => format!("b2c-host top  {}  {now}\n\nerror: {e}; retrying\n", c.base),
            Err(_) => return answer.map(|_| ()),
        };
        let mut out = std::io::stdout().lock();
        let _ = if args.once || !terminal { writeln!(out, "{text}") } else { write!(out, "{CLEAR}{text}") };
        let _ = out.flush();
        if args.once {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_frame_sorts_the_busiest_first() {
        let stats = json!({"windowSeconds": 10, "tenants": [
            {"tenant": "a", "requestsPerSec": 1.0, "p50Ms": 0.5, "p99Ms": 2.0, "errorRate": 0.0, "requests": 10,
             "cacheHitRatio": null, "queueDepth": 0, "restarts": 0, "breaker": "closed"},
            {"tenant": "b", "requestsPerSec": 250.5, "p50Ms": 1.25, "p99Ms": 9.0, "errorRate": 0.02, "requests": 2505,
             "cacheHitRatio": 0.5, "queueDepth": 3, "restarts": 1, "breaker": "open"}]});
        let f = frame(&stats, SortKey::Rps, "h");
        let rows: Vec<Vec<&str>> = f.lines().skip(3).map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(rows[0], ["b", "250.5", "1.25", "9.00", "2.0", "50", "3", "1", "open", "2505"], "{f}");
        assert_eq!(rows[1], ["a", "1.0", "0.50", "2.00", "0.0", "-", "0", "0", "closed", "10"], "{f}");
        let f = frame(&stats, SortKey::Tenant, "h");
        assert!(f.lines().nth(3).unwrap().starts_with("a "), "{f}");
    }
}
