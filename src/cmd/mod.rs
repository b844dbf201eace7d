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
