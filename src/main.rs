//! The `latch` binary: `serve` (default), `migrate`, `print-schema`, `users …`.

use clap::Parser;
use latch::config::{Cli, Command};
use latch::startup::Application;

fn main() -> std::process::ExitCode {
    tune_allocator();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(async_main()),
        Err(e) => {
            eprintln!("latch: cannot start the runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn async_main() -> std::process::ExitCode {
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
        Command::Users { action } => {
            let state = latch::startup::operator_state(settings).await?;
            let outcome = latch::operator::run(&state, &action).await;
            // PostgreSQL: the running instances have been sent the change before this
            // ends, and told not to wait for this process; a failed command may have
            // written too.
            state.store().settle().await;
            state.store().close().await;
            match outcome? {
                Ok(line) => {
                    println!("{line}");
                    Ok(())
                }
                Err(line) => {
                    eprintln!("{line}");
                    std::process::exit(1);
                }
            }
        }
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

/// glibc keeps freed memory in per-thread arenas and, after freeing one large block,
/// raises its mmap threshold so later large blocks come from those arenas and are never
/// returned. A fixed threshold keeps big allocations (argon2's buffers) in mmap, which
/// goes back to the system on free, and two arenas per core bound fragmentation.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; it is called before any thread starts.
    unsafe {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, (2 * cores) as libc::c_int);
    }
}
