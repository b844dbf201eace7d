//! `hooktap relay`'s flags (and its `names`, `release` and `queue` commands), and the
//! step that turns them into a [`RelayConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::values::{parse_duration, parse_size};
use crate::relay::{Auth, Limits, OfflineMode, RelayConfig, tls};
use crate::secret::Secret;
use crate::usage::UsageError;

/// `hooktap relay`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RelayArgs {
    /// Manage the names a relay handed out, or list its queue, instead of running one.
    #[command(subcommand)]
    pub action: Option<RelayAction>,

    /// Public HTTP(S) listener; tunnels connect to the same port.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Also route `<name>.<DOMAIN>` to tunnel `<name>` (needs a wildcard DNS record).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,

    /// How the relay is reached from outside (e.g. https://relay.example.com), for the
    /// URLs it hands out [default: the scheme and host the agent connected to].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,

    /// A token that may open tunnels with any free name (repeatable).
    #[arg(
        long = "token",
        value_name = "TOKEN",
        env = "HOOKTAP_RELAY_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub tokens: Vec<Secret>,

    /// A file of tokens, one per line, each followed by the names it may hold.
    #[arg(long, value_name = "PATH")]
    pub tokens_file: Option<PathBuf>,

    /// Let agents without a token open tunnels with random names.
    #[arg(long)]
    pub allow_anonymous: bool,

    /// Certificate chain (PEM) to serve HTTPS and WSS.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Where the offline queue lives [default: hooktap/relay in your data directory].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// What to do with requests for an offline agent: queue them (202) or reject (503).
    #[arg(long, value_name = "MODE", default_value = "queue", value_parser = offline_mode())]
    pub offline: OfflineMode,

    /// Largest request body (413 beyond).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    pub max_body: usize,

    /// Largest request head, all headers together (431 beyond).
    #[arg(long, value_name = "SIZE", default_value = "32KiB", value_parser = parse_size)]
    pub max_header: usize,

    /// Requests in flight per tunnel (429 beyond).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_in_flight: usize,

    /// How long the agent and app may take to answer (504 beyond).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub upstream_timeout: Duration,

    /// How long TLS and the tunnel handshake may take.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,

    /// Close sender connections idle for this long (at most --header-timeout).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// How long a sender may take to send a request head, from connecting or from the
    /// previous response; the connection is closed beyond.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// How long a sender's body may take, plus one second per --body-min-rate bytes
    /// received (408 beyond).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub body_timeout: Duration,

    /// Each this many body bytes received add a second to the body's deadline.
    #[arg(long, value_name = "SIZE", default_value = "16KiB", value_parser = parse_size)]
    pub body_min_rate: usize,

    /// Requests in flight per tunnel from one sender address (429 beyond).
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub max_in_flight_per_peer: usize,

    /// Anonymous tunnels open at once from one address.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_tunnels_per_peer: usize,

    /// Tunnel handshakes per minute from one address (429 beyond).
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub max_handshakes_per_minute: usize,

    /// Release an anonymous name when no agent has held it for this long.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub anonymous_name_ttl: Duration,

    /// Requests queued per name while its agent is offline (507 beyond).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub queue_max_requests: u64,

    /// Body bytes queued per name while its agent is offline (507 beyond).
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub queue_max_bytes: usize,

    /// Body bytes queued over all names (507 beyond). Queued bodies stream to disk under
    /// --data-dir; this bounds that disk use.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    pub queue_max_total_bytes: usize,

    /// Deliveries of a queued request before it is kept aside as a dead letter (listed by
    /// `hooktap relay queue`); failed deliveries are retried after 1s, 2s, 4s… up to 30s.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub queue_attempts: u32,

    /// Keep /_hooktap/metrics private: it then needs `Authorization: Bearer TOKEN`
    /// (/_hooktap/health stays public).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "HOOKTAP_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<Secret>,

    /// Interval between heartbeats to each agent; a silent tunnel is dropped after two.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub heartbeat: Duration,

    /// A front proxy (nginx, Caddy) in front of the relay: an IP address or a CIDR block
    /// (repeatable). For connections from it, the sender is the right-most address in
    /// X-Forwarded-For that is not itself a trusted proxy (the connection's address when
    /// the header is missing or unreadable); the per-address limits and the logs count
    /// that sender. Without it, everyone behind the proxy shares the proxy's limits.
    #[arg(long = "trusted-proxy", value_name = "ADDR")]
    pub trusted_proxies: Vec<crate::relay::proxies::TrustedProxy>,
}

/// `hooktap relay names`, `release` and `queue`: the names and queue in a relay's data
/// directory (works while the relay runs).
#[derive(Debug, clap::Subcommand)]
pub enum RelayAction {
    /// List the names the relay handed out, with their owners.
    ///
    /// A name belongs to the first token that held it, live or not, until it is released.
    /// The owner is shown as `token` and the first 12 hex digits of the SHA-256 of the token
    /// (`printf %s TOKEN | sha256sum`), or `anonymous`; then the requests queued for it.
    Names(RelayDataArgs),
    /// Free a name for the next token that asks for it.
    ///
    /// The requests queued for the name are dropped: they belong to the owner that loses it.
    Release(ReleaseArgs),
    /// List the requests queued for offline agents, oldest first, with dead letters.
    ///
    /// A queued request whose delivery failed --queue-attempts times is kept aside as a
    /// dead letter (DEAD): it stays in the queue and is listed here, and the requests
    /// behind it are delivered. `hooktap relay release NAME` drops a name's requests.
    Queue(RelayDataArgs),
}

/// Where the relay keeps its data.
#[derive(Debug, Args)]
pub struct RelayDataArgs {
    /// The relay's --data-dir [default: hooktap/relay in your data directory].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `hooktap relay release NAME`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The tunnel name to free.
    #[arg(value_name = "NAME")]
    pub name: String,

    #[command(flatten)]
    pub data: RelayDataArgs,
}

impl RelayDataArgs {
    /// `--data-dir`, or the default.
    pub fn dir(&self) -> anyhow::Result<PathBuf> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => crate::relay::default_data_dir(),
        }
    }
}

/// `--offline queue|reject`.
fn offline_mode() -> impl clap::builder::TypedValueParser<Value = OfflineMode> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["queue", "reject"]).map(|mode| match mode.as_str() {
        "reject" => OfflineMode::Reject,
        _ => OfflineMode::Queue,
    })
}

impl RelayArgs {
    /// The relay these flags describe (TLS files read, tokens checked), or the first bad
    /// value as a [`UsageError`].
    pub fn config(&self) -> anyhow::Result<RelayConfig> {
        let tokens: Vec<String> = self.tokens.iter().map(|t| t.expose().to_string()).collect();
        let auth = Auth::new(&tokens, self.tokens_file.as_deref(), self.allow_anonymous)?;
        if auth.is_closed() {
            return Err(UsageError::new(
                "nobody could open a tunnel: pass --token, --tokens-file or --allow-anonymous",
            )
            .into());
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(UsageError(format!(
                "--public-url '{url}' must start with http:// or https://"
            ))
            .into());
        }
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
            _ => None,
        };
        let data_dir = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => crate::relay::default_data_dir()?,
        };
        Ok(RelayConfig {
            public_url: self.public_url.clone(),
            domain: self
                .domain
                .as_ref()
                .map(|d| d.trim_matches('.').to_ascii_lowercase()),
            auth,
            data_dir: Some(data_dir),
            offline: self.offline,
            limits: Limits {
                max_body: self.max_body as u64,
                max_header: self.max_header,
                max_in_flight: self.max_in_flight.max(1),
                upstream_timeout: self.upstream_timeout,
                handshake_timeout: self.handshake_timeout,
                idle_timeout: self.idle_timeout,
                header_timeout: self.header_timeout,
                body_timeout: self.body_timeout,
                body_min_rate: (self.body_min_rate as u64).max(1),
                max_in_flight_per_peer: self.max_in_flight_per_peer.max(1),
                max_tunnels_per_peer: self.max_tunnels_per_peer.max(1),
                max_handshakes_per_minute: self.max_handshakes_per_minute.max(1),
                anonymous_name_ttl: self.anonymous_name_ttl,
                queue_max_requests: self.queue_max_requests,
                queue_max_bytes: self.queue_max_bytes as u64,
                queue_max_total_bytes: self.queue_max_total_bytes as u64,
                queue_attempts: self.queue_attempts.max(1),
                ..Limits::default()
            },
            tls,
            heartbeat: self.heartbeat,
            metrics_token: self
                .metrics_token
                .as_ref()
                .map(|token| crate::relay::auth::fingerprint(token.expose())),
            trusted_proxies: self.trusted_proxies.clone(),
        })
    }
}
