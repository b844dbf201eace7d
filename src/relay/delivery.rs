//! Delivery of the offline queue when an agent comes back: in arrival order, one request
//! at a time. An entry leaves the queue only once the agent has confirmed it committed
//! its record (the [`proto::TRAILER_COMMITTED`] trailer); a failed delivery is retried
//! with backoff, and after `--queue-attempts` failures the entry is kept aside as a dead
//! letter so the ones behind it are delivered.
//!
//! Order: while a tunnel drains, new requests for it are queued behind the entries
//! already there (202), so the app sees requests in arrival order; an entry that keeps
//! failing holds the ones behind it back for at most its retry budget.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tracing::{info, warn};

use super::Shared;
use super::queue::QueuedRequest;
use super::registry::Session;
use crate::tunnel::protocol as proto;
use crate::web::body::BoxError;

/// Bytes of a queued body read from the database at a time.
const CHUNK: usize = 256 * 1024;

/// Makes sure `session` delivers what is queued for it: starts a delivery unless one
/// runs. (A request queued while its agent connected may have missed the agent's look
/// at the queue.)
pub async fn kick(shared: Arc<Shared>, session: Arc<Session>) {
    if !session.is_live() {
        return;
    }
    let _gate = session.queue_gate.write().await;
    if session.closed.is_cancelled() || session.draining.load(Ordering::Acquire) {
        return;
    }
    session.draining.store(true, Ordering::Release);
    tokio::spawn(deliver_queue(shared, session.clone()));
}

/// Sends the name's queue through the tunnel in arrival order, one request at a time,
/// deleting each once the agent committed its record; then switches the session to live
/// traffic.
pub async fn deliver_queue(shared: Arc<Shared>, session: Arc<Session>) {
    let name = &session.name;
    let limits = &shared.config.limits;
    info!(%name, "delivering queued requests");
    let mut delivered = 0u64;
    loop {
        if session.closed.is_cancelled() {
            info!(%name, delivered, "queue delivery stopped: the agent left");
            return;
        }
        let item = match shared.queue.oldest(name).await {
            Ok(Some(item)) => item,
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
                continue;
            }
            Err(err) => {
                warn!("{err:#}");
                return;
            }
        };
        let (id, attempts) = (item.id, item.attempts + 1);
        match send_queued(&shared, &session, item).await {
            Ok(status) => {
                info!(%name, id, status, "queued request redelivered");
                if let Err(err) = shared.queue.delete(id).await {
                    warn!("{err:#}");
                    return;
                }
                delivered += 1;
            }
            Err(err) => {
                let err = format!("{err:#}");
                if session.closed.is_cancelled() || session.sender.is_closed() {
                    // Not the entry's fault: it is delivered again on the next connection.
                    info!(%name, id, %err, "queue delivery stopped: the tunnel closed");
                    return;
                }
                match shared.queue.failed(id, &err, limits.queue_attempts).await {
                    Ok(true) => warn!(
                        %name,
                        id,
                        attempts,
                        %err,
                        "queued request kept aside as a dead letter (`hooktap relay queue` lists it)"
                    ),
                    Ok(false) => {
                        let delay =
                            retry_delay(attempts, limits.queue_retry_min, limits.queue_retry_max);
                        info!(%name, id, attempts, %err, ?delay, "queued delivery failed; retrying");
                        tokio::select! {
                            _ = session.closed.cancelled() => {}
                            _ = tokio::time::sleep(delay) => {}
                        }
                    }
                    Err(db) => {
                        warn!("{db:#}");
                        return;
                    }
                }
            }
        }
    }
}

/// The wait after the `attempt`th failure: `min`, doubling up to `max`.
fn retry_delay(attempt: u32, min: Duration, max: Duration) -> Duration {
    min.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(max)
}

/// Delivers one entry; `Ok` with the app's status once the agent confirmed the record
/// is committed.
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
        .header(
            proto::HEADER_QUEUED_ID,
            format!("{}-{}", shared.queue.instance(), item.id),
        );
    // The body streams from the database in pieces: a large entry is never whole in
    // memory.
    let (queue, id, len) = (shared.queue.clone(), item.id, item.body_len);
    let chunks = futures_util::stream::try_unfold(0u64, move |offset| {
        let queue = queue.clone();
        async move {
            if offset >= len {
                return Ok(None);
            }
            let chunk: Bytes = queue.body_chunk(id, offset, CHUNK).await?;
            if chunk.is_empty() {
                anyhow::bail!("the queued body is shorter than stored");
            }
            let next = offset + chunk.len() as u64;
            Ok(Some((Frame::data(chunk), next)))
        }
    });
    let body =
        StreamBody::new(futures_util::TryStreamExt::map_err(chunks, BoxError::from)).boxed_unsync();
    let request = builder.body(body)?;
    let mut sender = session.sender.clone();
    let timeout = shared.config.limits.upstream_timeout;
    let exchange = async {
        let response = tokio::time::timeout(timeout, sender.send_request(request))
            .await
            .map_err(|_| anyhow::anyhow!("the agent did not answer a queued request in time"))??;
        let status = response.status().as_u16();
        // The app's answer went nowhere (the sender got its 202 long ago): read past its
        // body without keeping it, for the trailers at the end.
        let mut body = response.into_body();
        let mut trailers = None;
        let read = async {
            while let Some(frame) = body.frame().await {
                if let Ok(t) = frame?.into_trailers() {
                    trailers = Some(t);
                }
            }
            anyhow::Ok(())
        };
        tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| anyhow::anyhow!("the agent did not finish a queued request in time"))??;
        anyhow::Ok((status, trailers))
    };
    let (status, trailers) = tokio::select! {
        done = exchange => done?,
        _ = session.closed.cancelled() => anyhow::bail!("the tunnel closed"),
    };
    match trailers
        .as_ref()
        .and_then(|t| t.get(proto::TRAILER_COMMITTED))
    {
        Some(_) => Ok(status),
        None => anyhow::bail!(
            "the agent answered {status} without recording the request (the app did not answer)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_the_max() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(retry_delay(1, min, max), min);
        assert_eq!(retry_delay(3, min, max), Duration::from_millis(400));
        assert_eq!(retry_delay(40, min, max), max);
    }
}
