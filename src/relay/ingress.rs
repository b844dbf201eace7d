//! Public ingress: route each sender's request by name (`/t/<name>/…` or
//! `<name>.<domain>`), enforce the limits, and stream it through the tunnel, or queue it
//! while the agent is away. Also serves `/_hooktap/health` and `/_hooktap/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tracing::info;

use super::auth;
use super::deadline::{self, Deadline, SenderBody, prebuffer};
use super::delivery::kick;
use super::limits::{HoldingBody, header_bytes};
use super::peers::Peer;
use super::queue::{Arrival, Bounds, Refused};
use super::registry::Session;
use super::spool::{SpoolError, spool};
use super::tunnel::{text_body, upgrade};
use super::{OfflineMode, Shared, strict};
use crate::exchange::unix_micros;
use crate::tunnel::protocol as proto;
use crate::web::body::BoxBody;
use crate::web::error_response;
use crate::web::headers::{add_forwarded_for, header_list, strip_hop_by_hop, version_name};

/// Answers one request on the public listener.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    peer: SocketAddr,
    forwarded_for: Option<HeaderValue>,
) -> Response<BoxBody> {
    // Hosts and framing another parser could read differently are refused first.
    let host = match strict::check(&req) {
        Ok(host) => host,
        Err(refused) => {
            shared.metrics.count_status(refused.status.as_u16());
            shared.metrics.malformed.fetch_add(1, Ordering::Relaxed);
            return closing(error_response(refused.status, refused.message));
        }
    };
    // Behind a trusted front proxy, the sender is who the proxy says: the per-address
    // limits and the logs count it, not the proxy.
    let peer = super::proxies::sender_addr(peer, req.headers(), &shared.config.trusted_proxies);
    let path = req.uri().path();
    if path == proto::TUNNEL_PATH {
        return upgrade(shared, req, peer);
    }
    if path.starts_with(proto::RESERVED_PREFIX) {
        return own_endpoint(&shared, &req).await;
    }
    // Only traffic for tunnels is counted, not the relay's own endpoints.
    let response = route_and_answer(&shared, req, peer, host, forwarded_for.as_ref()).await;
    shared.metrics.count_status(response.status().as_u16());
    response
}

/// The answer to a request with both `Content-Length` and `Transfer-Encoding`, which a
/// proxy in front may have framed by the other one (RFC 9112 §6.1 allows refusing it).
pub fn refuse_framing(shared: &Shared) -> Response<BoxBody> {
    shared.metrics.count_status(400);
    shared.metrics.malformed.fetch_add(1, Ordering::Relaxed);
    closing(error_response(
        StatusCode::BAD_REQUEST,
        "the request has both Content-Length and Transfer-Encoding",
    ))
}

/// Asks the sender's client to close the connection after this answer: what follows on
/// it cannot be trusted to be framed as the relay thinks.
fn closing(mut response: Response<BoxBody>) -> Response<BoxBody> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn route_and_answer(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    peer: SocketAddr,
    host: String,
    forwarded_for: Option<&HeaderValue>,
) -> Response<BoxBody> {
    let limits = &shared.config.limits;
    if header_bytes(req.headers()) > limits.max_header {
        return error_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!(
                "the request headers are larger than the relay's limit of {} bytes",
                limits.max_header
            ),
        );
    }
    let Some((name, app_path)) = route(shared, &host, &req) else {
        return error_response(
            StatusCode::NOT_FOUND,
            "no tunnel here: send requests to /t/<name>/… on this relay",
        );
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_body) {
        return too_large(limits.max_body);
    }
    let public_url = format!(
        "{}://{host}{}",
        shared.scheme,
        req.uri().path_and_query().map_or("/", |pq| pq.as_str())
    );
    let (mut parts, body) = req.into_parts();
    prepare_headers(shared, &mut parts, forwarded_for, &host, &public_url);
    // The body's read deadline and size limit hold on the live and the offline path alike.
    let deadline = Deadline {
        timeout: limits.body_timeout,
        min_rate: limits.body_min_rate,
    };
    let body = SenderBody::new(
        body,
        deadline,
        limits.max_body,
        shared.metrics.bytes_in.clone(),
    );
    parts.extensions.insert(Peer::of(peer.ip()));
    let session = shared.registry.get(&name);
    match session {
        Some(session) if session.is_live() => {
            forward(shared, &session, parts, body, &name, &app_path).await
        }
        session => {
            let known = session.is_some()
                || matches!(shared.queue.owner(&name).await, Ok(Some(_)))
                || shared.config.auth.reserved_names().any(|n| n == name);
            if !known {
                return error_response(
                    StatusCode::NOT_FOUND,
                    &format!("no tunnel named '{name}' is connected to this relay"),
                );
            }
            offline(shared, session, parts, body, &name, &app_path).await
        }
    }
}

async fn own_endpoint(shared: &Shared, req: &Request<Incoming>) -> Response<BoxBody> {
    let (method, path) = (req.method(), req.uri().path());
    if method != Method::GET && method != Method::HEAD {
        return error_response(StatusCode::METHOD_NOT_ALLOWED, "use GET");
    }
    if path == "/_hooktap/metrics"
        && let Some(expected) = &shared.config.metrics_token
    {
        // Compared as digests, in constant time, like the tunnel tokens.
        let given = auth::bearer(req.headers()).map(auth::fingerprint);
        if !given.is_some_and(|given| auth::same(&given, expected)) {
            let mut response = error_response(
                StatusCode::UNAUTHORIZED,
                "the relay's metrics need `Authorization: Bearer <the relay's --metrics-token>`",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hooktap metrics\""),
            );
            return response;
        }
    }
    // `hooktap relay release` may have dropped requests from another process.
    if let Err(err) = shared.queue.refresh().await {
        tracing::warn!("{err:#}");
    }
    let (content_type, body) = match path {
        "/_hooktap/health" => (
            "application/json",
            serde_json::json!({
                "status": "ok",
                "tunnels_online": shared.registry.len(),
                "tunnels_draining": shared.registry.draining(),
                "queue_depth": shared.queue.depth(),
                "queue_dead_letters": shared.queue.dead_letters(),
            })
            .to_string()
                + "\n",
        ),
        "/_hooktap/metrics" => (
            "text/plain; version=0.0.4",
            shared
                .metrics
                .render(shared.registry.len(), shared.queue.depth())
                + &super::metrics::render_queue(shared.queue.bytes(), shared.queue.dead_letters()),
        ),
        _ => return error_response(StatusCode::NOT_FOUND, "unknown relay endpoint"),
    };
    let mut response = Response::new(text_body(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The tunnel name and the path (with query) the app should see.
fn route(shared: &Shared, host: &str, req: &Request<Incoming>) -> Option<(String, String)> {
    let path_and_query = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    if let Some(domain) = &shared.config.domain {
        let bare = host
            .rsplit_once(':')
            .map_or(host, |(h, _)| h)
            .to_ascii_lowercase();
        if let Some(label) = bare
            .strip_suffix(domain.as_str())
            .and_then(|l| l.strip_suffix('.'))
            && proto::valid_name(label)
        {
            return Some((label.to_string(), path_and_query.to_string()));
        }
    }
    let rest = path_and_query.strip_prefix("/t/")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (name, tail) = rest.split_at(end);
    if !proto::valid_name(name) {
        return None;
    }
    let tail = if tail.starts_with('/') {
        tail.to_string()
    } else {
        format!("/{tail}")
    };
    Some((name.to_string(), tail))
}

fn prepare_headers(
    shared: &Shared,
    parts: &mut Parts,
    forwarded_for: Option<&HeaderValue>,
    host: &str,
    public_url: &str,
) {
    let version = version_name(parts.version);
    let headers = &mut parts.headers;
    strip_hop_by_hop(headers);
    for name in proto::INTERNAL_HEADERS {
        headers.remove(name);
    }
    if let Some(entry) = forwarded_for {
        add_forwarded_for(headers, entry);
    }
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("x-forwarded-proto", shared.scheme);
    set("x-forwarded-host", host);
    set(proto::HEADER_PUBLIC_URL, public_url);
    set(proto::HEADER_HTTP_VERSION, version);
}

fn too_large(limit: u64) -> Response<BoxBody> {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the request body is larger than the relay's limit of {limit} bytes"),
    )
}

/// The answer to a sender whose body failed: 408, 413 or 400.
fn body_failed(shared: &Shared, status: StatusCode) -> Response<BoxBody> {
    let limits = &shared.config.limits;
    if status == StatusCode::REQUEST_TIMEOUT {
        shared.metrics.body_timeouts.fetch_add(1, Ordering::Relaxed);
    }
    let response = match status {
        StatusCode::REQUEST_TIMEOUT => error_response(
            status,
            &format!(
                "the request body did not arrive in time (the relay allows {} plus a second per {} bytes)",
                humantime::format_duration(limits.body_timeout),
                limits.body_min_rate
            ),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => too_large(limits.max_body),
        _ => error_response(
            StatusCode::BAD_REQUEST,
            "the request body could not be read: its framing is not valid",
        ),
    };
    closing(response)
}

fn too_many(message: String) -> Response<BoxBody> {
    let mut response = error_response(StatusCode::TOO_MANY_REQUESTS, &message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

async fn forward(
    shared: &Arc<Shared>,
    session: &Session,
    mut parts: Parts,
    body: SenderBody,
    name: &str,
    app_path: &str,
) -> Response<BoxBody> {
    let limits = &shared.config.limits;
    // One peer may not take all of a tunnel's slots; its slot covers the body's reading.
    let peer_slot = match parts.extensions.get::<Peer>() {
        Some(peer) => match session.peers.try_take(*peer, limits.max_in_flight_per_peer) {
            Some(slot) => Some(slot),
            None => {
                shared.metrics.peer_limited.fetch_add(1, Ordering::Relaxed);
                return too_many(format!(
                    "this address already has {} requests in flight to the tunnel '{name}'",
                    limits.max_in_flight_per_peer
                ));
            }
        },
        None => None,
    };
    // The first bytes are read before the agent hears of the request: a sender that
    // trickles or breaks its framing there reaches no agent and holds no tunnel slot.
    let failure = body.failure();
    let body = match prebuffer(body).await {
        Ok(body) => body,
        Err(err) => return body_failed(shared, deadline::status_of(&err)),
    };
    let Ok(permit) = session.in_flight.clone().try_acquire_owned() else {
        return too_many(format!(
            "the tunnel '{name}' already has {} requests in flight",
            limits.max_in_flight
        ));
    };
    let Ok(uri) = format!("http://{name}.tunnel{app_path}").parse() else {
        return error_response(StatusCode::BAD_REQUEST, "the request path is not valid");
    };
    parts.uri = uri;
    parts.version = http::Version::HTTP_2;
    let request = Request::from_parts(parts, body.boxed_unsync());
    let mut sender = session.sender.clone();
    // A body that fails (late, too large, malformed) is answered at once: its slots are
    // given back and the tunnel's stream is reset.
    let answer = tokio::select! {
        answer = tokio::time::timeout(limits.upstream_timeout, sender.send_request(request)) => Some(answer),
        () = failure.failed() => None,
    };
    let (None, Some(answer)) = (failure.status(), answer) else {
        return body_failed(shared, failure.status().unwrap_or(StatusCode::BAD_REQUEST));
    };
    match answer {
        Ok(Ok(response)) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            let held = (permit, peer_slot);
            let body = HoldingBody::new(body, held, shared.metrics.bytes_out.clone());
            Response::from_parts(parts, body.map_err(Into::into).boxed_unsync())
        }
        Ok(Err(err)) => error_response(
            StatusCode::BAD_GATEWAY,
            &format!("the tunnel '{name}' failed to answer: {err}"),
        ),
        Err(_) => error_response(
            StatusCode::GATEWAY_TIMEOUT,
            &format!(
                "the tunnel '{name}' did not answer within {}",
                humantime::format_duration(limits.upstream_timeout)
            ),
        ),
    }
}

async fn offline(
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
