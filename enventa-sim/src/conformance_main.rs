//! `enventa-conformance ADDR`: runs the protocol checks against a container
//! and prints one PASS/FAIL line per check; exits 1 if any fails.

use clap::Parser;
use enventa_sim::conformance::{Credentials, run};
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "enventa-conformance",
    version,
    about = "Checks an enventa container against protocol 1.1 (docs/enventa-protocol.md)"
)]
struct Args {
    /// The container's protocol address, host:port.
    addr: SocketAddr,
    #[arg(long, default_value = "conformance")]
    user: String,
    #[arg(long, default_value = "", env = "ENVENTA_PASSWORD", hide_env_values = true)]
    password: String,
    #[arg(long, default_value = "1")]
    mandant: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let a = Args::parse();
    let checks = run(a.addr, &Credentials { user: a.user, password: a.password, mandant: a.mandant }).await;
    let failed = checks.iter().filter(|c| !c.passed).count();
    for c in &checks {
        println!("{} {:<20} {}", if c.passed { "PASS" } else { "FAIL" }, c.name, c.detail);
    }
    println!("conformance: {} passed, {} failed", checks.len() - failed, failed);
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
