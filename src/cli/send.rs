//! `hooktap send`: its flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::SecretArgs;
use super::values::parse_duration;
use crate::secret::Secret;

/// `hooktap send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The sample event (github.push, stripe.payment_intent.succeeded; --list names them
    /// all), or with --body only the provider (github).
    #[arg(
        value_name = "EVENT",
        required_unless_present = "list",
        conflicts_with = "list"
    )]
    pub event: Option<String>,

    /// Where to post it: a port on this machine (5000), an http(s):// URL (a relay's public
    /// URL too). A URL with a path is used as it is; otherwise the event's own path
    /// (/webhooks/github) is added [default: a running listen's capture address,
    /// 127.0.0.1:4747].
    #[arg(long, value_name = "TARGET")]
    pub to: Option<String>,

    /// The signing secret for the event's provider; else --verify or hooktap.toml.
    #[arg(
        long,
        value_name = "SECRET",
        env = "HOOKTAP_SEND_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<Secret>,

    /// Signing secrets as listen takes them (repeatable): github=…, stripe=whsec_….
    #[arg(long = "verify", value_name = "PROVIDER=SECRET", value_parser = secret_flag)]
    pub verify: Vec<Secret>,

    /// Config file with secrets [default: ./hooktap.toml if present].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Send this file's bytes as the body (signed), with the event's headers.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,

    /// Change the body after signing, so the signature does not match: try the
    /// receiver's rejection path.
    #[arg(long, conflicts_with = "stale")]
    pub tamper: bool,

    /// Sign as of an hour ago, past the provider's tolerance (schemes that sign a
    /// timestamp: stripe, slack, standard-webhooks…).
    #[arg(long)]
    pub stale: bool,

    /// List the sample events and exit.
    #[arg(long)]
    pub list: bool,

    /// How long to wait for the answer (e.g. 10s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Trust this CA for an https:// destination with a self-signed certificate.
    #[arg(long, value_name = "PEM")]
    pub relay_ca: Option<PathBuf>,
}

impl SendArgs {
    /// The secrets of `--verify` and hooktap.toml, as the other commands read them.
    pub fn secret_args(&self) -> SecretArgs {
        SecretArgs {
            verify: self.verify.clone(),
            config: self.config.clone(),
            provider: None,
        }
    }
}

/// Never fails: secrets are checked when the verifier is built, so clap never echoes one.
fn secret_flag(text: &str) -> Result<Secret, String> {
    Ok(Secret::verbatim(text))
}
