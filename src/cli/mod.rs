//! The command line: clap definitions, a file per command or group of commands, and the
//! step that turns them into the library's typed configs (a bad value is reported here,
//! before anything binds). `cmd` runs them; no other module names clap.

mod demo;
mod filter;
mod inspect;
mod listen;
mod relay;
mod replay;
mod secrets;
mod send;
mod values;

use clap::{Args, Parser, Subcommand};

use crate::store::Location;
use crate::usage::UsageError;

pub use demo::DemoArgs;
pub use filter::FilterArgs;
pub use inspect::{RequestsArgs, ShowArgs, UiArgs, VerifyArgs};
pub use listen::{ApiArgs, ListenArgs, TunnelArgs};
pub use relay::{RelayAction, RelayArgs, RelayDataArgs, ReleaseArgs};
pub use replay::{DiffArgs, ExportArgs, ReplayArgs, SelectArgs};
pub use secrets::SecretArgs;
pub use send::SendArgs;
pub use values::{parse_duration, parse_rate, parse_since, parse_size};

/// Capture, inspect and forward webhooks to the app on your machine.
#[derive(Debug, Parser)]
#[command(name = "hooktap", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Capture requests on a local address, forward them to your app and record them.
    ///
    /// With no TARGET there is no app yet: hooktap answers every request itself (200 and
    /// a short JSON body, or --respond) and records it, to see what a provider sends
    /// before the handler exists.
    Listen(ListenArgs),
    /// List recorded requests, newest first.
    Requests(RequestsArgs),
    /// Show one recorded request and its response.
    Show(ShowArgs),
    /// Send recorded requests again, to the same app or another, and record the results.
    Replay(ReplayArgs),
    /// Compare two recorded exchanges (a replay with its original by default).
    Diff(DiffArgs),
    /// Write recorded requests as HAR, curl commands or a replayable fixture.
    Export(ExportArgs),
    /// Check webhook signatures of recorded requests, or of a request saved in a file.
    Verify(VerifyArgs),
    /// Open the inspector (a terminal UI) on a store, also one another process writes.
    ///
    /// It tails what a `hooktap listen` (headless, in a container or CI) records, and
    /// shows yesterday's session as well. Replays made here go to each request's target
    /// and are recorded in the same store. Keys: `?` in the inspector. Its log goes to
    /// hooktap-ui.log in the temporary folder (HOOKTAP_LOG sets the level).
    Ui(UiArgs),
    /// Post a realistic sample webhook (github.push, stripe.payment_intent.succeeded…),
    /// signed with your secret, and print what came back.
    ///
    /// Like `stripe trigger`: fresh ids and timestamps each time; --tamper and --stale try
    /// the receiver's rejection paths. Exits 0 on any HTTP answer (whatever its status), 1
    /// when nothing answered (refused, timed out), 2 on a usage error (no secret, unknown
    /// event).
    Send(SendArgs),
    /// See hooktap work in one command: a relay, the inspector and a sample app, all on
    /// this machine, and signed webhooks sent through them.
    ///
    /// Everything runs in this process on 127.0.0.1 (ephemeral ports) and stops on q or
    /// Ctrl-C; its files live in a temporary directory removed on exit. It sends GitHub,
    /// Stripe and Standard Webhooks events signed with demo-only secrets, one tampered
    /// (invalid), one stale (expired) and one the sample app fails with a 500, then says
    /// what to try: r replays the failed one (the app is fixed by then), s re-signs, e
    /// edits. With --no-tui (or no terminal) it prints a line per event and exits.
    Demo(DemoArgs),
    /// Run a relay: give agents public URLs and route requests into their tunnels.
    ///
    /// Logs go to stderr, one line per event, at info by default: agents connecting and
    /// leaving (name, peer address), refused tunnels (reason, never the token), queueing
    /// and redelivery. HOOKTAP_LOG changes that (warn, debug, hooktap::relay=debug).
    Relay(RelayArgs),
}

/// Where the store is, shared by every command that reads or writes it.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// SQLite file with the capture history [default: hooktap.db in your data directory].
    /// `:memory:` keeps nothing after exit.
    #[arg(
        long,
        value_name = "PATH",
        env = "HOOKTAP_STORE",
        hide_env_values = true
    )]
    pub store: Option<String>,
}

impl StoreArgs {
    /// The store these flags name: `--store`, `$HOOKTAP_STORE`, or the default file.
    pub fn location(&self) -> anyhow::Result<Location> {
        match &self.store {
            Some(text) if text.trim().is_empty() => {
                Err(UsageError::new("--store needs a path or :memory:").into())
            }
            Some(text) => Ok(Location::parse(text)),
            None => Location::default_file(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
