//! `notify`: the notification service's one binary.

use std::process::ExitCode;

use clap::Parser;

/// Logs go to stderr (`Log.Level`, `Log.Format`; `RUST_LOG` overrides the level), so the
/// result lines of one-shot commands stay alone on stdout.
fn init_tracing(log: &bootstrap::config::LogConfig) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = bootstrap::cli::Cli::parse();
    let config = match bootstrap::cli::load_config(&cli) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    init_tracing(&config.log);
    match bootstrap::cli::run(cli, config).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
