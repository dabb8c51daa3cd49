//! `b2c-host`: thin entry point. Parses the command line, sets up tracing,
//! runs the command and prints the error chain on failure.

use b2c_host::cli::{Cli, Command};
use b2c_host::client;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::CompileCheck { memory_mib, file } = &cli.command {
        // The sandbox child: no runtime, no logging set-up, just the compile.
        return ExitCode::from(b2c_host::sandbox::child_main(file, *memory_mib) as u8);
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: a log file or collector gets
        // plain lines.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<()> = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => Ok(b2c_host::server::run(args).await?),
            Command::Plugin(cmd) => Ok(client::plugin(cmd).await?),
            Command::Tenant(cmd) => Ok(client::tenant(cmd).await?),
            Command::Audit { conn, limit } => Ok(client::audit(conn, limit).await?),
            Command::Openapi => {
                println!("{}", b2c_host::api::openapi::pretty());
                Ok(())
            }
            Command::CompileCheck { .. } => unreachable!("handled before the runtime starts"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
