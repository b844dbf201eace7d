//! The relay's own endpoints: `/_hooktap/health` (public) and `/_hooktap/metrics` (behind
//! `--metrics-token` when set).

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use super::Shared;
use super::auth;
use super::tunnel::text_body;
use crate::web::body::BoxBody;
use crate::web::error_response;

pub(super) async fn own_endpoint(shared: &Shared, req: &Request<Incoming>) -> Response<BoxBody> {
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
