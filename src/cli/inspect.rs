//! The flags of the commands that read the store: `requests`, `show`, `verify`, `ui`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::values::parse_duration;
use super::{FilterArgs, SecretArgs, StoreArgs};

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

    #[command(flatten)]
    pub filter: FilterArgs,

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
