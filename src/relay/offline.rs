//! A request for a name whose agent is away: its body spooled to disk against the queue's
//! room and answered 202 (or refused with 507 and why), then delivered when the agent is
//! back (`delivery.rs`).

use std::sync::Arc;
use std::time::SystemTime;

use http::request::Parts;
use http::{HeaderValue, Response, StatusCode, header};
use tracing::info;

use super::deadline::{self, SenderBody};
use super::delivery::kick;
use super::queue::{Arrival, Bounds, Refused};
use super::registry::Session;
use super::spool::{SpoolError, spool};
use super::tunnel::text_body;
use super::{OfflineMode, Shared};
use crate::exchange::unix_micros;
use crate::tunnel::protocol as proto;
use crate::web::body::BoxBody;
use crate::web::error_response;
use crate::web::headers::header_list;

use super::answers::{body_failed, too_large};

pub(super) async fn offline(
    shared: &Arc<Shared>,
    session: Option<Arc<Session>>,
    parts: Parts,
    body: SenderBody,
    name: &str,
    app_path: &str,
) -> Response<BoxBody> {
    if shared.config.offline == OfflineMode::Reject && session.is_none() {
        let mut response = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the agent for '{name}' is offline; retry later"),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        return response;
    }
    let limits = &shared.config.limits;
    let bounds = Bounds {
        max_requests: limits.queue_max_requests,
        max_bytes: limits.queue_max_bytes,
        max_total_bytes: limits.queue_max_total_bytes,
    };
    // Room for the whole body is reserved before its first byte is read (a body of
    // unknown length reserves as it arrives); the body streams to a spool file, with no
    // lock held, so a slow sender holds up nobody.
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let reservation = match shared.queue.reserve(name, declared, bounds).await {
        Ok(Ok(reservation)) => reservation,
        Ok(Err(refused)) => return queue_full(name, refused),
        Err(err) => return queue_failed(err),
    };
    let spooled = match spool(shared.queue.spool_dir(), body, reservation, limits.max_body).await {
        Ok(spooled) => spooled,
        Err(SpoolError::TooLarge) => return too_large(limits.max_body),
        Err(SpoolError::Full(refused)) => return queue_full(name, refused),
        Err(SpoolError::Body(err)) => return body_failed(shared, deadline::status_of(&err)),
        Err(err @ SpoolError::Io(_)) => return queue_failed(err.into()),
    };
    let arrival = Arrival {
        name: name.to_string(),
        arrived_us: unix_micros(SystemTime::now()),
        method: parts.method.to_string(),
        uri: app_path.to_string(),
        headers: header_list(&parts.headers),
    };
    let bytes = spooled.len;
    // The gate is held only to append: the delivery switches the tunnel to live traffic
    // under it, so a request queued before that is delivered by it, and one queued after
    // starts a delivery of its own.
    let current = shared.registry.get(name);
    let pushed = match &current {
        Some(session) => {
            let gate = session.queue_gate.read().await;
            let live = session.is_live();
            let pushed = shared.queue.push(arrival, spooled).await;
            drop(gate);
            // The tunnel went live while the body was spooled: its delivery already
            // looked at the queue, so start another for this request (it keeps its 202).
            if live {
                kick(shared.clone(), session.clone()).await;
            }
            pushed
        }
        None => {
            let pushed = shared.queue.push(arrival, spooled).await;
            // An agent that connected meanwhile may have looked at the queue before this
            // request was in it: make sure it gets it.
            if let Some(session) = shared.registry.get(name) {
                kick(shared.clone(), session).await;
            }
            pushed
        }
    };
    match pushed {
        Ok(id) => {
            info!(%name, id, bytes, "request queued for an offline agent");
            let text = if current.is_some() || session.is_some() {
                format!(
                    "hooktap: the agent for '{name}' is receiving its queued requests; queued as {id}, delivered after them\n"
                )
            } else {
                format!(
                    "hooktap: the agent for '{name}' is offline; queued as {id}, delivered when it reconnects\n"
                )
            };
            let mut response = Response::new(text_body(text));
            *response.status_mut() = StatusCode::ACCEPTED;
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
                headers.insert(proto::HEADER_QUEUED, value);
            }
            response
        }
        Err(err) => queue_failed(err),
    }
}

fn queue_full(name: &str, refused: Refused) -> Response<BoxBody> {
    match refused {
        Refused::NameFull => {
            info!(%name, "request refused: the offline queue is full");
            error_response(
                StatusCode::INSUFFICIENT_STORAGE,
                &format!("the offline queue for '{name}' is full; retry once its agent is back"),
            )
        }
        Refused::RelayFull => {
            info!(%name, "request refused: the relay's offline queue is full");
            error_response(
                StatusCode::INSUFFICIENT_STORAGE,
                "the relay's offline queue is full (--queue-max-total-bytes); retry later",
            )
        }
    }
}

fn queue_failed(err: anyhow::Error) -> Response<BoxBody> {
    tracing::warn!("{err:#}");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the relay could not queue the request",
    )
}
