//! Delivery of the offline queue when an agent comes back: in arrival order, one request
//! at a time, each deleted once the agent answered it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::Request;
use http_body_util::{BodyExt, Full};
use tracing::{info, warn};

use super::Shared;
use super::queue::QueuedRequest;
use super::registry::Session;
use crate::tunnel::protocol as proto;

/// Sends the name's queue through the tunnel in arrival order, one request at a time,
/// deleting each once the agent answered; then switches the session to live traffic.
pub async fn deliver_queue(shared: Arc<Shared>, session: Arc<Session>) {
    let name = &session.name;
    info!(%name, "delivering queued requests");
    let mut delivered = 0u64;
    loop {
        if session.closed.is_cancelled() {
            info!(%name, delivered, "queue delivery stopped: the agent left");
            return;
        }
        match shared.queue.oldest(name).await {
            Ok(Some(item)) => {
                let id = item.id;
                match send_queued(&shared, &session, item).await {
                    Ok(status) => info!(%name, id, status, "queued request redelivered"),
                    Err(err) => {
                        info!(%name, id, %err, "queue delivery stopped");
                        return;
                    }
                }
                if let Err(err) = shared.queue.delete(id).await {
                    warn!("{err:#}");
                    return;
                }
                delivered += 1;
            }
            Ok(None) => {
                let _gate = session.queue_gate.write().await;
                if matches!(shared.queue.oldest(name).await, Ok(None)) {
                    session.draining.store(false, Ordering::Release);
                    info!(
                        name,
                        delivered, "queue delivered; the tunnel takes live traffic"
                    );
                    return;
                }
            }
            Err(err) => {
                warn!("{err:#}");
                return;
            }
        }
    }
}

async fn send_queued(
    shared: &Shared,
    session: &Session,
    item: QueuedRequest,
) -> anyhow::Result<u16> {
    let mut builder = Request::builder()
        .method(item.method.as_str())
        .uri(format!("http://{}.tunnel{}", session.name, item.uri))
        .version(http::Version::HTTP_2);
    for (name, value) in &item.headers {
        builder = builder.header(name.as_str(), value.as_slice());
    }
    builder = builder
        .header(proto::HEADER_QUEUED_AT, item.arrived_us.to_string())
        .header(proto::HEADER_QUEUED_ID, item.id.to_string());
    let body = Full::new(item.body)
        .map_err(|never| match never {})
        .boxed_unsync();
    let request = builder.body(body)?;
    let mut sender = session.sender.clone();
    let timeout = shared.config.limits.upstream_timeout;
    let response = tokio::time::timeout(timeout, sender.send_request(request))
        .await
        .map_err(|_| anyhow::anyhow!("the agent did not answer a queued request in time"))??;
    let status = response.status().as_u16();
    // The agent recorded it once it answered; read the rest so the stream ends cleanly.
    let _ = tokio::time::timeout(timeout, response.into_body().collect()).await;
    Ok(status)
}
