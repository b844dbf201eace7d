//! The tunnel part of `hooktap listen`: open it, and print its state changes.
//!
//! The first connection must succeed: at start, an unreachable relay or a refusal is
//! most often a typo in `--relay` or `--token`, so it fails at once with one sentence
//! (exit 1) rather than retrying silently. Once the tunnel was up, drops are retried
//! with backoff and every change is printed, as ngrok's agent does.

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::UsageError;
use crate::cli::TunnelArgs;
use crate::forward::Forwarder;
use crate::tunnel::{self, AgentConfig, ConnectError, Tunnel, TunnelEvent};

/// Opens the tunnel when `--relay` is given.
pub async fn open(
    args: &TunnelArgs,
    forwarder: Forwarder,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<Tunnel>> {
    let Some(relay) = &args.relay else {
        return Ok(None);
    };
    check_scheme(relay)?;
    if let Some(name) = &args.name
        && !crate::tunnel::protocol::valid_name(name)
    {
        return Err(UsageError(format!(
            "--name '{name}' is not a valid tunnel name: use 1-63 of a-z, 0-9 and '-'"
        ))
        .into());
    }
    let mut config = AgentConfig::new(relay.clone());
    config.token = args.token.as_ref().map(|t| t.0.clone());
    config.name = args.name.clone();
    config.relay_ca = args.relay_ca.clone();
    config.heartbeat = args.heartbeat.max(std::time::Duration::from_millis(100));
    match tunnel::start(config, forwarder, shutdown).await {
        Ok(tunnel) => Ok(Some(tunnel)),
        Err(ConnectError::Refused(refusal)) => Err(anyhow::anyhow!(
            "the relay refused the tunnel: {}",
            refusal.message
        )),
        Err(ConnectError::Failed(err)) => Err(err),
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

/// The first lines of `listen --relay`: the public URL; with `--domain` on the relay, the
/// subdomain URL and the `/t/<name>` one, each labelled after the URL (the subdomain one
/// needs wildcard DNS, which a laptop often lacks), the preferred one first.
pub fn url_lines(name: &str, urls: &[String]) -> String {
    match urls {
        [one] => format!("{one}\n"),
        many => many
            .iter()
            .map(|url| format!("{url}  ({})\n", url_label(name, url)))
            .collect(),
    }
}

/// What kind of public URL `url` is.
fn url_label(name: &str, url: &str) -> &'static str {
    if url.ends_with(&format!("/t/{name}")) {
        "path: works without wildcard DNS"
    } else {
        "subdomain"
    }
}

/// The `tunnel` event for `--json`.
pub fn event_json(event: &TunnelEvent) -> Value {
    match event {
        TunnelEvent::Online {
            name,
            public_url,
            public_urls,
            queued,
        } => json!({
            "event": "tunnel", "state": "online", "name": name,
            "public_url": public_url, "public_urls": public_urls, "queued": queued,
        }),
        TunnelEvent::Offline { reason } => {
            json!({"event": "tunnel", "state": "offline", "reason": reason})
        }
        TunnelEvent::Reconnecting { attempt, delay } => json!({
            "event": "tunnel", "state": "reconnecting", "attempt": attempt,
            "delay_ms": delay.as_millis() as u64,
        }),
        TunnelEvent::Refused(message) => {
            json!({"event": "tunnel", "state": "refused", "message": message})
        }
        TunnelEvent::Replaced(message) => {
            json!({"event": "tunnel", "state": "replaced", "message": message})
        }
    }
}

/// The log line for `--no-tui`.
pub fn event_line(event: &TunnelEvent) -> String {
    match event {
        TunnelEvent::Online {
            name,
            public_urls,
            queued,
            ..
        } => {
            let queued = match queued {
                0 => String::new(),
                n => format!("; {n} queued requests arriving"),
            };
            let at = match public_urls.as_slice() {
                [one] => one.clone(),
                many => many
                    .iter()
                    .map(|url| format!("{url} ({})", url_label(name, url)))
                    .collect::<Vec<_>>()
                    .join(" and "),
            };
            format!("hooktap: tunnel online again at {at}{queued}")
        }
        TunnelEvent::Offline { reason } => format!("hooktap: tunnel offline: {reason}"),
        TunnelEvent::Reconnecting { attempt, delay } => format!(
            "hooktap: reconnecting to the relay in {} (attempt {attempt})",
            humantime::format_duration(std::time::Duration::from_millis(delay.as_millis() as u64))
        ),
        TunnelEvent::Refused(message) => {
            format!("hooktap: the relay refused the tunnel: {message}")
        }
        TunnelEvent::Replaced(message) => format!("hooktap: tunnel closed: {message}"),
    }
}

/// The error `listen` exits with (status 1) after an event that stopped the tunnel for
/// good, or `None` when the tunnel goes on.
pub fn fatal(event: &TunnelEvent) -> Option<anyhow::Error> {
    match event {
        TunnelEvent::Refused(message) => {
            Some(anyhow::anyhow!("the relay refused the tunnel: {message}"))
        }
        TunnelEvent::Replaced(message) => Some(anyhow::anyhow!(
            "the tunnel was {message}: stop the other agent or pick another --name"
        )),
        _ => None,
    }
}
