//! `enventa-sim`: the enventa container simulator as a process.

use clap::Parser;
use enventa_sim::{Faults, Sim, SimConfig};
use std::net::SocketAddr;

#[derive(Parser)]
#[command(
    name = "enventa-sim",
    version,
    about = "Plays the enventa .NET container (protocol v1) for tests, demos and benchmarks"
)]
struct Args {
    /// Protocol address.
    #[arg(long, default_value = "127.0.0.1:7001")]
    listen: SocketAddr,
    /// Admin HTTP address (GET /stats, GET/PUT /faults).
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// Number of synthetic articles.
    #[arg(long, default_value_t = 100_000)]
    articles: u64,
    /// Number of synthetic customers.
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// Latency added to every request, in ms.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction of requests answered UNAVAILABLE (0..1).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Fraction of requests whose connection is dropped (0..1).
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Extra time Login takes, in ms.
    #[arg(long, default_value_t = 0)]
    login_delay_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let a = Args::parse();
    let faults = Faults {
        latency_ms: a.latency_ms,
        error_rate: a.error_rate,
        drop_rate: a.drop_rate,
        hang: false,
        login_delay_ms: a.login_delay_ms,
        wrong_request_id: false,
    };
    let sim = Sim::start(SimConfig {
        listen: a.listen,
        admin_listen: a.admin_listen,
        articles: a.articles,
        customers: a.customers,
        faults,
    })
    .await?;
    println!("enventa-sim listening on {}", sim.addr);
    if let Some(admin) = sim.admin_addr {
        println!("admin: http://{admin}/stats");
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
