//! `b2c-host`: thin entry point. Parses the command line, sets up tracing,
//! runs the command and prints the error chain on failure.

use b2c_host::cli::{Cli, Command};
use b2c_host::client;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::CompileCheck { memory_mib, out, lean_memory_bytes, file } = &cli.command {
        // The sandbox child: no runtime, no logging set-up, just the compile.
        return ExitCode::from(
            b2c_host::sandbox::child_main(file, *memory_mib, out.as_deref(), *lean_memory_bytes) as u8
        );
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
    let client = |r: Result<(), client::ClientError>| match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line on stderr, and a code scripts can tell apart.
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => match b2c_host::server::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {:#}", anyhow::Error::from(e));
                    ExitCode::FAILURE
                }
            },
            Command::Plugin(cmd) => client(client::plugin(cmd).await),
            Command::Tenant(cmd) => client(client::tenant(cmd).await),
            Command::Audit { conn, limit } => client(client::audit(conn, limit).await),
            Command::Top(args) => client(client::top::run(args).await),
            Command::Openapi => {
                println!("{}", b2c_host::api::openapi::pretty());
                ExitCode::SUCCESS
            }
            Command::Wit { out: None } => {
                print!("{}", b2c_host::bindings::CONTRACT_WIT);
                ExitCode::SUCCESS
            }
            Command::Wit { out: Some(dir) } => match b2c_host::bindings::write_contract(&dir) {
                Ok(file) => {
                    println!("wrote {}", file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: writing the contract into {}: {e}", dir.display());
                    ExitCode::FAILURE
                }
            },
            Command::Completions { shell } => {
                use clap::CommandFactory;
                clap_complete::generate(shell, &mut Cli::command(), "b2c-host", &mut std::io::stdout());
                ExitCode::SUCCESS
            }
            Command::CompileCheck { .. } => unreachable!("handled before the runtime starts"),
        }
    })
}
