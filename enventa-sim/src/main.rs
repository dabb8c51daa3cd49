//! `enventa-sim`: the enventa container simulator as a process.

use clap::Parser;
use enventa_sim::{Faults, ProtocolConfig, Sim, SimConfig};
use std::net::SocketAddr;

#[derive(Parser)]
#[command(
    name = "enventa-sim",
    version,
    about = "Plays the enventa .NET container (protocol 1.1, or 1.0 with --minor-version 0) for tests, demos and benchmarks"
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
    /// Highest minor version of protocol 1 spoken: 1 (1.1) or 0 (plays a 1.0 container).
    #[arg(long, default_value_t = enventa_proto::PROTOCOL_MINOR, value_parser = clap::value_parser!(u32).range(0..=1))]
    minor_version: u32,
    /// Announced `max_ids_per_request`.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_ids: u32,
    /// Announced `max_page_size`.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_page_size: u32,
    /// Announced `max_frame_bytes`.
    #[arg(long, default_value_t = 16 * 1024 * 1024, value_parser = clap::value_parser!(u32).range(1024..))]
    max_frame_bytes: u32,
    /// Password Login must carry (any when unset).
    #[arg(long, env = "ENVENTA_SIM_PASSWORD")]
    password: Option<String>,
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
        ..Faults::default()
    };
    let sim = Sim::start(SimConfig {
        listen: a.listen,
        admin_listen: a.admin_listen,
        articles: a.articles,
        customers: a.customers,
        faults,
        protocol: ProtocolConfig {
            minor_version: a.minor_version,
            max_ids_per_request: a.max_ids,
            max_page_size: a.max_page_size,
            max_frame_bytes: a.max_frame_bytes,
            password: a.password,
            broken: None,
        },
    })
    .await?;
    println!("enventa-sim listening on {}", sim.addr);
    if let Some(admin) = sim.admin_addr {
        println!("admin: http://{admin}/stats");
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
