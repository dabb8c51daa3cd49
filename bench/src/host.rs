//! The host under test: a child process running `b2c-host serve`, so its
//! memory is its own and the client's work does not count as the host's.

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN: &str = "bench-admin-token-0123456789abcdef";

/// Entry of the child: exactly what `b2c-host` does with these arguments.
pub fn run_child(args: Vec<String>) -> anyhow::Result<()> {
    use clap::Parser;
    let cli = b2c_host::cli::Cli::parse_from(std::iter::once("b2c-host".to_string()).chain(args));
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let mut args = match cli.command {
        b2c_host::cli::Command::Serve(args) => args,
        b2c_host::cli::Command::CompileCheck { memory_mib, out, lean_memory_bytes, file } => {
            std::process::exit(b2c_host::sandbox::child_main(&file, memory_mib, out.as_deref(), lean_memory_bytes));
        }
        _ => bail!("the bench child only serves"),
    };
    // Uploads compile in `b2c-bench host compile-check …`, as the real
    // binary's do in `b2c-host compile-check …`.
    args.compile_sandbox = Some((std::env::current_exe()?, vec!["host".into()]));
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(b2c_host::server::serve(args))?;
    Ok(())
}

/// A running host, killed on drop.
pub struct HostProc {
    child: Child,
    pub base: String,
    /// From spawn until the host printed its address (registry open,
    /// listening; bound tenants still starting).
    pub startup: Duration,
    /// From spawn until every bound tenant was activated (`tenants
    /// started`): their plugins compiled or read from the compile cache.
    pub ready: Duration,
}

impl HostProc {
    pub fn start(data_dir: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let t0 = Instant::now();
        let mut child = Command::new(exe)
            .args(["host", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("B2C_ADMIN_TOKEN", ADMIN)
            .env("B2C_DEMO_KEY", "bench-demo-key-0123456789abcdef")
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the host child")?;
        let stdout = child.stdout.take().context("host stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(rest) = l.strip_prefix("b2c-host listening on ") {
                        break rest.trim().to_string();
                    }
                }
                _ => bail!("the host exited before it listened"),
            }
        };
        let startup = t0.elapsed();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("tenants started: ") => break,
                Some(Ok(_)) => {}
                _ => bail!("the host exited before its tenants started"),
            }
        }
        let ready = t0.elapsed();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Self { child, base, startup, ready })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size now, in bytes.
    pub fn rss(&self) -> u64 {
        rss_of(self.pid())
    }

    /// SIGTERM, then wait (the host finishes in-flight requests).
    pub fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for HostProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) a process has used so far, in seconds.
pub fn cpu_seconds_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat(5): 11 and 12 after ')'.
    // Linux reports them in USER_HZ, which is 100 on every supported arch.
    (ticks(11) + ticks(12)) / 100.0
}

pub fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Samples a process's RSS every few milliseconds until dropped; `peak()`
/// is the highest seen.
pub struct RssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(rss_of(pid)));
        let (s, p) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_of(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Self { stop, peak }
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
