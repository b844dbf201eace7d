//! The command line: clap definitions only; `cmd` turns them into work.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

mod send;
mod tunnel;
pub use send::SendArgs;
pub use tunnel::{RelayAction, RelayArgs, RelayDataArgs, ReleaseArgs, Secret, TunnelArgs};

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
    Replay(crate::cli_replay::ReplayArgs),
    /// Compare two recorded exchanges (a replay with its original by default).
    Diff(crate::cli_replay::DiffArgs),
    /// Write recorded requests as HAR, curl commands or a replayable fixture.
    Export(crate::cli_replay::ExportArgs),
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

/// `hooktap ui`.
#[derive(Debug, Args)]
pub struct UiArgs {
    /// Leave the mouse to the terminal (its own text selection) instead of click to
    /// select and wheel to scroll.
    #[arg(long)]
    pub no_mouse: bool,

    /// How long the app may take to answer a replay (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// `hooktap listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Where to forward: a port on this machine (5000) or an http:// URL with an optional
    /// base path (http://localhost:5000/base). None: no app yet, hooktap answers every
    /// request itself (see --respond) and records it.
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,

    /// With no TARGET: answer every request with STATUS and an optional BODY (200,
    /// 202:accepted, 500) [default: 200 with a short JSON body].
    #[arg(long, value_name = "STATUS[:BODY]", conflicts_with = "target", value_parser = crate::respond::Respond::parse)]
    pub respond: Option<crate::respond::Respond>,

    /// Local capture listener.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4747")]
    pub capture_addr: SocketAddr,

    /// How long the app may take to answer before the sender gets 504 (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Body bytes kept per request and per response; larger bodies are forwarded whole
    /// and stored cut (e.g. 10MiB, 512KiB, 1048576).
    #[arg(long, value_name = "SIZE", default_value = "10MiB", value_parser = parse_size)]
    pub capture_limit: usize,

    /// How many requests the store keeps; the oldest go first.
    #[arg(long, value_name = "N", default_value_t = crate::store::DEFAULT_RETAIN)]
    pub retain: usize,

    /// How many bytes of bodies and headers the store keeps; the oldest requests go
    /// first (e.g. 1GiB, 200MiB). Default: 1GiB, or 32MiB with `--store :memory:`.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub retain_bytes: Option<usize>,

    /// Print one line per request instead of opening the inspector (a terminal UI; the
    /// lines are the default whenever stdout is not a terminal, and with --json).
    #[arg(long)]
    pub no_tui: bool,

    /// In the inspector, leave the mouse to the terminal (its own text selection) instead
    /// of click to select and wheel to scroll.
    #[arg(long)]
    pub no_mouse: bool,

    /// With --no-tui: print one JSON object per line (NDJSON): a `ready` event, then a
    /// `request` event per exchange.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub api: crate::cli_replay::ApiArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub secrets: SecretArgs,

    #[command(flatten)]
    pub tunnel: TunnelArgs,
}

/// Webhook secrets for signature checks, shared by `listen`, `verify` and `replay`.
#[derive(Debug, Args, Clone, Default)]
pub struct SecretArgs {
    /// Check signatures from PROVIDER with SECRET (repeatable): stripe=whsec_…, github=…,
    /// standard-webhooks=whsec_…; for discord and sendgrid the public key. Secrets can
    /// also come from hooktap.toml, by environment variable.
    #[arg(long = "verify", value_name = "PROVIDER=SECRET", value_parser = parse_secret_flag)]
    pub verify: Vec<SecretFlag>,

    /// Config file with secrets and generic schemes [default: ./hooktap.toml if present].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Check every request as this provider instead of detecting it from the headers.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
}

/// A `--verify PROVIDER=SECRET` value; `Debug` hides it.
#[derive(Clone)]
pub struct SecretFlag(pub String);

impl std::fmt::Debug for SecretFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let provider = self.0.split_once('=').map_or("?", |(p, _)| p);
        write!(f, "{provider}=***")
    }
}

/// Never fails: checking happens when the verifier is built, so that an error message
/// from clap can never echo a secret.
fn parse_secret_flag(text: &str) -> Result<SecretFlag, String> {
    Ok(SecretFlag(text.to_string()))
}

/// `hooktap verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Recorded requests to check (ids or unique prefixes), with the secrets configured now.
    #[arg(
        value_name = "ID",
        required_unless_present = "request",
        conflicts_with = "request"
    )]
    pub ids: Vec<String>,

    /// Check a raw HTTP/1.1 request from FILE (what `show --raw` prints) instead.
    #[arg(long, value_name = "FILE")]
    pub request: Option<PathBuf>,

    /// The public URL the sender called, for schemes that sign it (Twilio, Square, HubSpot).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// Check as of this time (unix seconds) [default: now for a file, the time of receipt
    /// for a recorded request].
    #[arg(long, value_name = "UNIX_SECONDS", allow_negative_numbers = true)]
    pub at: Option<i64>,

    /// Print one JSON object per request.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// `hooktap requests`.
#[derive(Debug, Args)]
pub struct RequestsArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Show at most N requests (the newest).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: usize,

    /// Only failed requests: no response, or a status outside 200-299.
    #[arg(long)]
    pub failed: bool,

    /// Only requests whose path starts with P (e.g. /webhooks).
    #[arg(long, value_name = "P")]
    pub path: Option<String>,

    /// Only requests received since T: a time (2026-11-24T10:00:00Z) or a span back from
    /// now (15m, 2h, 1day).
    #[arg(long, value_name = "T", value_parser = parse_since)]
    pub since: Option<i64>,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// `hooktap show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The request's id, or any unique prefix of it.
    #[arg(value_name = "ID")]
    pub id: String,

    /// Print the whole exchange as JSON (bodies as text and base64).
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,

    /// Print the request as an HTTP/1.1 message: headers, a blank line, the body bytes.
    #[arg(long)]
    pub raw: bool,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// Parses `30s`, `1m`, `500ms`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let duration = humantime::parse_duration(text)
        .map_err(|_| format!("'{text}' is not a duration: use e.g. 30s, 2m or 500ms"))?;
    if duration.is_zero() {
        return Err("the duration must be more than zero".into());
    }
    Ok(duration)
}

/// Parses `--since`: an RFC 3339 time or a span back from now; microseconds since the epoch.
pub fn parse_since(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(crate::exchange::unix_micros(time));
    }
    let span = humantime::parse_duration(text).map_err(|_| {
        format!("'{text}' is neither a time (2026-11-24T10:00:00Z) nor a span (15m, 2h)")
    })?;
    let now = std::time::SystemTime::now();
    Ok(crate::exchange::unix_micros(now) - span.as_micros() as i64)
}

/// Parses `10MiB`, `512KiB`, `1GiB`, `10MB`, or a plain byte count.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a size: use e.g. 10MiB, 512KiB or 1048576"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(format!("'{text}': unknown unit; use B, KiB, MiB or GiB")),
    };
    number
        .checked_mul(multiplier)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("'{text}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("ten").is_err());
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_since("1970-01-01T00:00:01Z"), Ok(1_000_000));
        assert!(
            parse_since("2h").unwrap() < crate::exchange::unix_micros(std::time::SystemTime::now())
        );
        assert!(parse_since("yesterday-ish").is_err());
    }
}
