//! `hooktap relay`: run a relay until Ctrl-C.

use tokio_util::sync::CancellationToken;

use super::{UsageError, emit};
use std::path::PathBuf;

use crate::cli::{RelayAction, RelayArgs};
use crate::relay::{Auth, Limits, Relay, RelayConfig, tls};

/// Runs `hooktap relay` (or its `names` and `release` commands).
pub async fn relay(args: RelayArgs) -> anyhow::Result<()> {
    match args.action {
        Some(RelayAction::Names(data)) => return super::relay_names::names(data).await,
        Some(RelayAction::Release(release)) => return super::relay_names::release(release).await,
        Some(RelayAction::Queue(data)) => return super::relay_names::queue(data).await,
        None => {}
    }
    let tokens: Vec<String> = args.tokens.iter().map(|t| t.0.clone()).collect();
    let auth = Auth::new(&tokens, args.tokens_file.as_deref(), args.allow_anonymous)?;
    if auth.is_closed() {
        return Err(UsageError(
            "nobody could open a tunnel: pass --token, --tokens-file or --allow-anonymous".into(),
        )
        .into());
    }
    if let Some(url) = &args.public_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(UsageError(format!(
            "--public-url '{url}' must start with http:// or https://"
        ))
        .into());
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
        _ => None,
    };
    let data_dir = data_dir(args.data_dir)?;
    let secure = tls.is_some();
    let config = RelayConfig {
        public_url: args.public_url,
        domain: args
            .domain
            .map(|d| d.trim_matches('.').to_ascii_lowercase()),
        auth,
        data_dir: Some(data_dir),
        offline: args.offline,
        limits: Limits {
            max_body: args.max_body as u64,
            max_header: args.max_header,
            max_in_flight: args.max_in_flight.max(1),
            upstream_timeout: args.upstream_timeout,
            handshake_timeout: args.handshake_timeout,
            idle_timeout: args.idle_timeout,
            header_timeout: args.header_timeout,
            body_timeout: args.body_timeout,
            body_min_rate: (args.body_min_rate as u64).max(1),
            max_in_flight_per_peer: args.max_in_flight_per_peer.max(1),
            max_tunnels_per_peer: args.max_tunnels_per_peer.max(1),
            max_handshakes_per_minute: args.max_handshakes_per_minute.max(1),
            anonymous_name_ttl: args.anonymous_name_ttl,
            queue_max_requests: args.queue_max_requests,
            queue_max_bytes: args.queue_max_bytes as u64,
            queue_max_total_bytes: args.queue_max_total_bytes as u64,
            queue_attempts: args.queue_attempts.max(1),
            ..Limits::default()
        },
        tls,
        heartbeat: args.heartbeat,
        trusted_proxies: args.trusted_proxies,
        metrics_token: args
            .metrics_token
            .as_ref()
            .map(|token| crate::relay::auth::fingerprint(&token.0)),
    };
    let relay = Relay::bind(args.listen, config).await?;
    let addr = relay.local_addr()?;
    let (http, ws) = if secure {
        ("https", "wss")
    } else {
        ("http", "ws")
    };
    emit(
        format!(
            "hooktap relay: serving {http}://{addr}; agents connect with `hooktap listen --relay {ws}://{addr}`\n"
        )
        .as_bytes(),
    )?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(relay.run(shutdown.clone()));
    let _ = tokio::signal::ctrl_c().await;
    shutdown.cancel();
    let _ = task.await;
    Ok(())
}

/// `--data-dir`, or the default: hooktap/relay in the user's data directory.
pub fn data_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match flag {
        Some(dir) => Ok(dir),
        None => Ok(dirs::data_dir()
            .ok_or_else(|| anyhow::anyhow!("could not find your data directory; pass --data-dir"))?
            .join("hooktap")
            .join("relay")),
    }
}
