//! `hooktap relay`: run a relay until SIGINT (Ctrl-C) or SIGTERM.

use tokio_util::sync::CancellationToken;

use super::emit;
use crate::cli::{RelayAction, RelayArgs};
use crate::relay::Relay;

/// Runs `hooktap relay` (or its `names`, `release` and `queue` commands).
pub async fn relay(args: RelayArgs) -> anyhow::Result<()> {
    match args.action {
        Some(RelayAction::Names(data)) => return super::relay_names::names(data).await,
        Some(RelayAction::Release(release)) => return super::relay_names::release(release).await,
        Some(RelayAction::Queue(data)) => return super::relay_names::queue(data).await,
        None => {}
    }
    let config = args.config()?;
    // From here on SIGINT and SIGTERM stop the relay cleanly: agents told, requests in
    // flight finished.
    let stop = super::stop_signal()?;
    let secure = config.tls.is_some();
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
    stop.await;
    shutdown.cancel();
    let _ = task.await;
    Ok(())
}
