//! The `latch` binary: `serve` (default), `migrate`, `print-schema`.

use clap::Parser;
use latch::config::{Cli, Command};
use latch::startup::Application;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if command == Command::PrintSchema {
        print!("{}", latch::graphql::sdl());
        return std::process::ExitCode::SUCCESS;
    }
    let filter = EnvFilter::try_from_env("LATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    match run(cli.settings, command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latch: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(settings: latch::config::Settings, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Migrate => {
            let cfg = settings.resolve(settings.bind)?;
            let store = latch::store::Store::connect(&cfg.database_url).await?;
            store.migrate().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        _ => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await
        }
    }
}
