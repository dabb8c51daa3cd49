//! `b2c-bench`: the benchmark of the seed's table.
//!
//! A tour:
//! - `host.rs` starts a real `b2c-host serve` in a child process (this same
//!   binary re-executed as `b2c-bench host serve …`, so one `cargo run`
//!   builds everything), on loopback with a fresh data dir, and reads its
//!   RSS from `/proc`;
//! - `client.rs` is the HTTP side: tenants, keys, requests, latency samples;
//! - `scenario.rs` runs the rows of the table against one provider
//!   (mock-erp, or enventa-bridge talking to an in-process `enventa-sim`);
//! - `native.rs` is the host-overhead baseline: mock-erp's own data code
//!   compiled natively into this binary and called in-process;
//! - `report.rs` prints the table, checks each figure against its target
//!   and writes `bench/results.json`.
//!
//! Numbers are figures, never assertions: nothing here fails because a
//! machine is slow.

mod client;
mod host;
mod native;
mod report;
mod scenario;

use clap::{Parser, Subcommand};

use std::path::PathBuf;

// `native.rs` compiles mock-erp's `data.rs`, which names its types as
// `crate::types`: here, the host's bindings of the same WIT.
use b2c_host::bindings::types;

#[derive(Debug, Parser)]
#[command(name = "b2c-bench", about = "Benchmark the provider host over loopback HTTP")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Small sizes: the whole run takes under a minute.
    #[arg(long)]
    quick: bool,
    /// Where the JSON results go.
    #[arg(long, default_value = "bench/results.json")]
    out: PathBuf,
    /// Only these parts: mock-erp, enventa-bridge, memory, startup, overhead;
    /// or bridge-stream (the bridge's two stream rows alone).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Internal: run the host itself (what the benchmark starts as a child).
    #[command(hide = true)]
    Host {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Cmd::Host { args }) = cli.command {
        return host::run_child(args);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let sizes = if cli.quick { scenario::Sizes::quick() } else { scenario::Sizes::full() };
    let results = rt.block_on(scenario::run_all(&sizes, &cli.only))?;
    report::print(&results);
    println!("\n{}", report::markdown(&results));
    report::write_json(&cli.out, &sizes, &results)?;
    println!("\nresults written to {}", cli.out.display());
    Ok(())
}
