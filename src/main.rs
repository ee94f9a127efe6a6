//! The `latch` binary: `serve` (default), `migrate`, `print-schema`.

use clap::Parser;
use latch::config::{Cli, Command};
use latch::startup::Application;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if command == Command::PrintSchema {
        print!("{}", latch::graphql::sdl());
        return std::process::ExitCode::SUCCESS;
    }
    latch::telemetry::init_logging(&cli.settings.log_format);
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
            let store = latch::store::Store::from_config(&cfg).await?;
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
