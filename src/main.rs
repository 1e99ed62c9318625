#![forbid(unsafe_code)]
//! Parse the command line, set up logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use latchkey::cli::{self, Cli, Command, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse(); // usage errors exit 2
    let config = match cli.load_config() {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let result = match cli.command {
        Command::Serve => {
            init_logging(cli.log_format);
            serve(config)
        }
        _ => cli::run_admin(&cli, &config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("{e:#}")),
    }
}

fn fail(message: &str) -> ExitCode {
    // One line, whatever the cause chain held.
    eprintln!("latchkey: error: {}", message.replace('\n', " "));
    ExitCode::from(1)
}

fn serve(config: latchkey::config::Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let running = latchkey::server::start(config).await?;
        if let Some(link) = &running.setup_link {
            println!(
                "No accounts yet. Open this link within 1 hour to create the first administrator:"
            );
            println!("{link}");
        }
        tracing::info!(addr = %running.addr, "latchkey is serving");
        running.run_until(latchkey::server::shutdown_signal()).await
    })
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
