//! The flags of `replay`, `diff` and `export`, and the record selection they share.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args};

use super::values::{parse_duration, parse_rate};
use super::{FilterArgs, SecretArgs, StoreArgs};

/// Which recorded requests a command works on.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Request ids, or unique prefixes of them.
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,

    #[command(flatten)]
    pub filter: FilterArgs,
}

impl SelectArgs {
    /// The selection these flags describe.
    pub fn selection(&self) -> crate::select::Selection {
        crate::select::Selection {
            ids: self.ids.clone(),
            filter: self.filter.filter(),
        }
    }
}

/// `hooktap replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Send the requests in a fixture written by `hooktap export --fixture` instead; a
    /// response that differs from the fixture's is listed and exits 1.
    #[arg(long, value_name = "FIXTURE", conflicts_with_all = ["ids", "failed", "path", "since", "until", "method", "status", "source", "verdict", "edit"])]
    pub from_file: Option<PathBuf>,

    /// With --failed, also resend requests that already have a successful (2xx) replay
    /// (skipped by default, since the app may not be idempotent).
    #[arg(long, requires = "failed")]
    pub again: bool,

    /// Send to this app instead of where each request first went: a port (5000) or an
    /// http:// URL; the original path is joined onto it.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,

    /// Open the request in $VISUAL / $EDITOR as an HTTP/1.1 message and send what you
    /// save (Content-Length fixed up). An unchanged or empty file cancels.
    #[arg(long)]
    pub edit: bool,

    /// Replace the signature headers with fresh ones from the configured secret (a new
    /// timestamp and id where the scheme has them), after any --edit, so the app's check
    /// passes for an old or edited request. Without it the request is sent as recorded.
    #[arg(long)]
    pub resign: bool,

    /// Start at most N replays a second (e.g. 5/s, 5, 30/m).
    #[arg(long, value_name = "N/s", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// How many replays may be in flight at once.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// How long the app may take to answer each replay (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Print one JSON object per replay instead of a line.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// `hooktap diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A request id (or prefix). Alone: a replay, compared with its original.
    #[arg(value_name = "ID")]
    pub id: String,

    /// A second request to compare the first with.
    #[arg(value_name = "ID2")]
    pub other: Option<String>,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// `hooktap export`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("format").required(true).args(["har", "curl", "fixture", "jsonl"])))]
pub struct ExportArgs {
    /// HAR 1.2, for browsers' developer tools and HTTP tools.
    #[arg(long)]
    pub har: bool,

    /// One curl command per request that sends it again byte for byte.
    #[arg(long)]
    pub curl: bool,

    /// A fixture (JSON, bodies in base64) that `hooktap replay --from-file` sends again.
    #[arg(long)]
    pub fixture: bool,

    /// One request body per line (JSON Lines), for jq and pandas; JSON bodies as they are,
    /// other bodies skipped (counted on stderr).
    #[arg(long)]
    pub jsonl: bool,

    #[command(flatten)]
    pub select: SelectArgs,

    /// Keep credential headers (Authorization, Cookie, X-Api-Key, …) and configured secrets
    /// as they are.
    #[arg(long)]
    pub no_redact: bool,

    /// Write to FILE (created readable by you only, mode 0600) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub store: StoreArgs,

    /// The secrets to redact (`--verify PROVIDER=SECRET`, hooktap.toml).
    #[command(flatten)]
    pub secrets: SecretArgs,
}
