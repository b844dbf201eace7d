//! Public ingress: route each sender's request by name (`/t/<name>/…` or
//! `<name>.<domain>`), enforce the limits, and stream it through the tunnel, or queue it
//! while the agent is away. Also serves `/_hooktap/health` and `/_hooktap/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::answers::{body_failed, closing, too_large};
use super::deadline::{self, Deadline, SenderBody, prebuffer};
use super::limits::{HoldingBody, header_bytes};
use super::peers::Peer;
use super::registry::Session;
use super::tunnel::upgrade;
use super::{Shared, strict};
use crate::tunnel::protocol as proto;
use crate::web::body::BoxBody;
use crate::web::error_response;
use crate::web::headers::{add_forwarded_for, strip_hop_by_hop, version_name};

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
        return super::endpoints::own_endpoint(&shared, &req).await;
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
            super::offline::offline(shared, session, parts, body, &name, &app_path).await
        }
    }
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
