//! `hooktap listen`'s flags, and the step that turns them into a [`ListenConfig`]: the
//! target, addresses, secrets and the relay URL are parsed and checked before anything
//! binds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::values::{parse_duration, parse_size};
use super::{SecretArgs, StoreArgs};
use crate::api::{ApiAddr, ApiConfig};
use crate::capture::ForwardConfig;
use crate::capture::Respond;
use crate::capture::Target;
use crate::secret::Secret;
use crate::session::ListenConfig;
use crate::tunnel::AgentConfig;
use crate::usage::UsageError;

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
    #[arg(long, value_name = "STATUS[:BODY]", conflicts_with = "target", value_parser = Respond::parse)]
    pub respond: Option<Respond>,

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
    pub api: ApiArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub secrets: SecretArgs,

    #[command(flatten)]
    pub tunnel: TunnelArgs,
}

/// `hooktap listen` flags for the tunnel to a relay.
#[derive(Debug, Args, Clone)]
pub struct TunnelArgs {
    /// Open a tunnel to this relay (ws://host:port or wss://host) and print its public URLs.
    #[arg(
        long,
        value_name = "URL",
        env = "HOOKTAP_RELAY",
        hide_env_values = true
    )]
    pub relay: Option<String>,

    /// The token the relay gave you (ignored without --relay).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "HOOKTAP_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<Secret>,

    /// Ask the relay for this tunnel name (kept across reconnects; a newer agent with the
    /// same token and name takes it, and this one exits).
    #[arg(long, value_name = "NAME", requires = "relay")]
    pub name: Option<String>,

    /// Trust this CA certificate (PEM) for a relay with a self-signed certificate.
    #[arg(long, value_name = "PEM", requires = "relay")]
    pub relay_ca: Option<PathBuf>,

    /// Interval between heartbeats to the relay; a tunnel silent for two is dropped and
    /// dialled again (a link that stalls without closing, e.g. a NAT that forgot it).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, requires = "relay")]
    pub heartbeat: Duration,
}

/// The local API's flags on `hooktap listen`.
#[derive(Debug, Args, Clone, Default)]
pub struct ApiArgs {
    /// Local HTTP API to list, read and replay requests (docs/api.md)
    /// [default: 127.0.0.1:4748]; `off` disables it.
    #[arg(long, value_name = "ADDR")]
    pub api_addr: Option<String>,

    /// Allow --api-addr on an address other than loopback (needs --api-token).
    #[arg(long)]
    pub api_allow_remote: bool,

    /// Token the API requires as `Authorization: Bearer <TOKEN>`.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "HOOKTAP_API_TOKEN",
        hide_env_values = true
    )]
    pub api_token: Option<Secret>,
}

impl ListenArgs {
    /// The session these flags describe, or the first bad value as a [`UsageError`].
    pub fn config(&self) -> anyhow::Result<ListenConfig> {
        let target = self
            .target
            .as_deref()
            .map(Target::parse)
            .transpose()
            .map_err(|e| UsageError(e.to_string()))?;
        // No app: hooktap answers (replays name their own target, so the forwarder's is
        // unused).
        let respond = target
            .is_none()
            .then(|| self.respond.clone().unwrap_or_default());
        Ok(ListenConfig {
            respond,
            forward: ForwardConfig {
                target: target.unwrap_or_else(|| Target::parse("80").expect("80 is a valid port")),
                timeout: self.timeout,
                capture_limit: self.capture_limit,
            },
            capture_addr: self.capture_addr,
            store: self.store.location()?,
            retain: self.retain,
            retain_bytes: self.retain_bytes.map(|b| b as u64),
            verifier: self.secrets.verifier()?,
            api: self.api.config()?,
            tunnel: self.tunnel.config()?,
        })
    }
}

impl ApiArgs {
    /// The API these flags describe.
    pub fn config(&self) -> Result<ApiConfig, UsageError> {
        let addr = match self.api_addr.as_deref().map(str::trim) {
            None => ApiAddr::Default,
            Some(text) if text.eq_ignore_ascii_case("off") => ApiAddr::Off,
            Some(text) => ApiAddr::At(text.parse().map_err(|_| {
                UsageError(format!(
                    "--api-addr '{text}' is not an address: use e.g. 127.0.0.1:4748, or off"
                ))
            })?),
        };
        Ok(ApiConfig {
            addr,
            allow_remote: self.api_allow_remote,
            token: self.api_token.clone(),
        })
    }
}

impl TunnelArgs {
    /// The agent these flags describe, when `--relay` is given.
    pub fn config(&self) -> Result<Option<AgentConfig>, UsageError> {
        let Some(relay) = &self.relay else {
            return Ok(None);
        };
        check_scheme(relay)?;
        if let Some(name) = &self.name
            && !crate::tunnel::protocol::valid_name(name)
        {
            return Err(UsageError(format!(
                "--name '{name}' is not a valid tunnel name: use 1-63 of a-z, 0-9 and '-'"
            )));
        }
        let mut config = AgentConfig::new(relay.clone());
        config.token = self.token.clone();
        config.name = self.name.clone();
        config.relay_ca = self.relay_ca.clone();
        config.heartbeat = self.heartbeat.max(Duration::from_millis(100));
        Ok(Some(config))
    }
}

/// `--relay` must say how to reach the relay: a bare `host:port` is the commonest slip.
fn check_scheme(relay: &str) -> Result<(), UsageError> {
    let text = relay.trim();
    let scheme = text.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("ws" | "wss" | "http" | "https") => Ok(()),
        Some(_) => Err(UsageError(format!(
            "--relay '{relay}' must start with ws:// (or wss:// for a relay with TLS)"
        ))),
        None => Err(UsageError(format!(
            "--relay '{relay}' has no scheme: write ws://{text} (or wss://{text} for a relay with TLS)"
        ))),
    }
}
