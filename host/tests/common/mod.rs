//! Running the real `b2c-host` binary from a test.

#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_b2c-host");
pub const ADMIN: &str = "cli-test-admin-token-0123456789";

/// A running `b2c-host serve`, killed on drop.
pub struct Served {
    pub child: Child,
    pub lines: Vec<String>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(ok.success(), "kill -{sig}");
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

/// Starts `b2c-host serve` on `data_dir` with `extra` flags and waits for
/// the curl line (the host listens) and the `tenants started` line (every
/// binding is active).
pub fn serve_with(data_dir: &std::path::Path, extra: &[&str], demo_key: Option<&str>) -> Served {
    serve_wrapped(&[], data_dir, extra, demo_key, Stdio::null())
}

/// [`serve_with`] run by `wrapper` (e.g. `prlimit --as=…`) with its
/// stderr sent to `stderr`.
pub fn serve_wrapped(
    wrapper: &[&str],
    data_dir: &std::path::Path,
    extra: &[&str],
    demo_key: Option<&str>,
    stderr: Stdio,
) -> Served {
    serve_full(wrapper, data_dir, extra, demo_key, stderr, &[])
}

/// [`serve_with`] with `envs` set on the host (after the harness's own,
/// so `RUST_LOG` may be overridden) and its log (stderr) read line by
/// line into the returned channel, drained so the host never blocks on it.
pub fn serve_logged(
    data_dir: &std::path::Path,
    extra: &[&str],
    demo_key: Option<&str>,
    envs: &[(&str, &str)],
) -> (Served, std::sync::mpsc::Receiver<String>) {
    let mut served = serve_full(&[], data_dir, extra, demo_key, Stdio::piped(), envs);
    let stderr = served.child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (served, rx)
}

fn serve_full(
    wrapper: &[&str],
    data_dir: &std::path::Path,
    extra: &[&str],
    demo_key: Option<&str>,
    stderr: Stdio,
    envs: &[(&str, &str)],
) -> Served {
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(BIN);
            c
        }
        None => Command::new(BIN),
    };
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("B2C_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "warn")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr);
    match demo_key {
        Some(k) => cmd.env("B2C_DEMO_KEY", k),
        None => cmd.env_remove("B2C_DEMO_KEY"),
    };
    let mut child = cmd.spawn().expect("b2c-host starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !lines.iter().any(|l: &String| l.starts_with("tenants started: ")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(_) => panic!("no `tenants started` line within 120 s; got {lines:?}"),
        }
    }
    let base =
        lines.iter().find_map(|l| l.strip_prefix("b2c-host listening on ")).expect("listening line").trim().to_string();
    Served { child, lines, base }
}

pub fn serve(data_dir: &std::path::Path) -> Served {
    serve_with(data_dir, &[], None)
}

/// The admin request that publishes `bytes` as `name`@1.0.0 on a served
/// host; the caller sends it and judges the answer.
pub fn publish_request(c: &reqwest::Client, base: &str, name: &str, bytes: Vec<u8>) -> reqwest::RequestBuilder {
    c.put(format!("{base}/admin/v1/plugins/{name}/versions/1.0.0"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/wasm")
        .body(bytes)
}

/// An admin API call on a served host: (status, JSON body); status 0 when
/// the request did not get through (a killed host).
pub async fn admin(
    c: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut r = c.request(method, format!("{base}{path}")).bearer_auth(ADMIN);
    if let Some(b) = body {
        r = r.json(&b);
    }
    match r.send().await {
        Ok(r) => {
            let s = r.status().as_u16();
            (s, r.json().await.unwrap_or(serde_json::Value::Null))
        }
        Err(_) => (0, serde_json::Value::Null),
    }
}
