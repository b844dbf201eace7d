//! The subcommands: each turns parsed arguments into work and output.

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

use crate::cli::{Cli, Command, StoreArgs};
use crate::store::Location;

pub use listen::listen;
pub use listen_tui::wants_tui as listen_wants_tui;

/// An error the user caused with their arguments: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

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
        Command::Relay(args) => relay::relay(args).await,
        Command::Send(args) => send::send(args).await,
        Command::Ui(args) => ui::ui(args).await,
    }
}

/// The store a command uses: `--store`, `$HOOKTAP_STORE`, or the default file.
pub fn store_location(args: &StoreArgs) -> anyhow::Result<Location> {
    match &args.store {
        Some(text) if text.trim().is_empty() => {
            Err(UsageError("--store needs a path or :memory:".into()).into())
        }
        Some(text) => Ok(Location::parse(text)),
        None => Location::default_file(),
    }
}

/// Writes to stdout; a closed pipe (`hooktap requests | head`) is not an error worth a
/// message, so it surfaces as an io error `main` treats as success.
pub fn emit(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}
