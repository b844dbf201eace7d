//! The subcommands: each turns parsed arguments into work and output.

mod demo;
mod diff;
mod export;
mod listen;
mod listen_tui;
mod printer;
mod relay;
mod relay_names;
mod replay;
mod requests;
mod send;
mod tunnel;
mod ui;
mod verify;

use std::future::Future;
use std::io::Write;

use crate::cli::{Cli, Command};

pub use listen::listen;
pub use listen_tui::wants_tui as listen_wants_tui;

pub use crate::usage::UsageError;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Listen(args) => listen(args).await,
        Command::Requests(args) => requests::requests(args),
        Command::Show(args) => requests::show(args),
        Command::Replay(args) => replay::replay(args).await,
        Command::Diff(args) => diff::diff(args),
        Command::Export(args) => export::export(args),
        Command::Verify(args) => verify::verify(args),
        Command::Demo(args) => demo::demo(args).await,
        Command::Relay(args) => relay::relay(args).await,
        Command::Send(args) => send::send(args).await,
        Command::Ui(args) => ui::ui(args).await,
    }
}

/// Writes to stdout; a closed pipe (`hooktap requests | head`) is not an error worth a
/// message, so it surfaces as an io error `main` treats as success.
pub fn emit(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// What stops `listen` and `relay` cleanly: the first SIGINT (Ctrl-C) or SIGTERM (systemd's
/// and Docker's stop, `kill`). The handlers are installed when this is called, not when the
/// future is first polled: call it before announcing readiness, so that a signal sent the
/// moment the ready line appears is never the default action (death without shutdown).
pub(crate) fn stop_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
