//! The API's routes: JSON answers for list, get, replay and clear.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use super::access::check_access;
use super::reply::{error, json_response};
use super::{DEFAULT_LIMIT, MAX_BODY_BYTES, MAX_LIMIT, State};
use crate::capture::Target;
use crate::exchange::{ExchangeId, Source};
use crate::output::exchange_json;
use crate::replay::{ReplayError, ReplayOptions, replay_one};
use crate::store::{Filter, LookupError, StatusMatch, VerdictMatch};

/// Answers one API request.
pub(super) async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(refusal) = check_access(state, &req) {
        return refusal;
    }
    let path = req.uri().path().trim_end_matches('/').to_string();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match (req.method().clone(), segments.as_slice()) {
        (Method::GET, ["api", "requests"]) => list(state, req.uri().query().unwrap_or("")).await,
        (Method::DELETE, ["api", "requests"]) => clear(state).await,
        (Method::GET, ["api", "requests", id]) => get(state, id).await,
        (Method::POST, ["api", "requests", id, "replay"]) => {
            let id = id.to_string();
            replay(state, &id, req).await
        }
        (_, ["api", "requests"]) => not_allowed("GET, DELETE"),
        (_, ["api", "requests", _]) => not_allowed("GET"),
        (_, ["api", "requests", _, "replay"]) => not_allowed("POST"),
        _ => error(
            StatusCode::NOT_FOUND,
            "no such route: the API is described in docs/api.md",
        ),
    }
}

fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("this route takes {allow}"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}

async fn list(state: &State, query: &str) -> Response<Full<Bytes>> {
    let mut filter = Filter {
        limit: Some(DEFAULT_LIMIT),
        ..Filter::default()
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "limit" => match value.parse::<usize>() {
                Ok(n) if n > 0 => filter.limit = Some(n.min(MAX_LIMIT)),
                _ => return error(StatusCode::BAD_REQUEST, "limit must be a positive number"),
            },
            "failed" => match value {
                "true" | "1" | "" => filter.failed = true,
                "false" | "0" => filter.failed = false,
                _ => return error(StatusCode::BAD_REQUEST, "failed must be true or false"),
            },
            "path" => filter.path = Some(crate::web::form::percent_decode(value)),
            "method" => filter.method = Some(crate::web::form::percent_decode(value)),
            "status" => match StatusMatch::parse(value) {
                Ok(status) => filter.status = Some(status),
                Err(why) => return error(StatusCode::BAD_REQUEST, format!("status: {why}")),
            },
            "verdict" => match VerdictMatch::parse(value) {
                Ok(verdict) => filter.verdict = Some(verdict),
                Err(why) => return error(StatusCode::BAD_REQUEST, format!("verdict: {why}")),
            },
            "source" => match Source::parse_typed(value) {
                Ok(source) => filter.source = Some(source),
                Err(why) => return error(StatusCode::BAD_REQUEST, format!("source: {why}")),
            },
            "since" | "until" => match value.parse::<i64>() {
                Ok(us) if key == "since" => filter.since_us = Some(us),
                Ok(us) => filter.until_us = Some(us),
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("{key} must be microseconds since the epoch (received_at_us)"),
                    );
                }
            },
            "before" => match ExchangeId(value.to_ascii_lowercase()).to_u64() {
                Some(id) => filter.before = Some(id),
                None => return error(StatusCode::BAD_REQUEST, "before must be a request id"),
            },
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unknown parameter '{key}': use limit, failed, path, method, status, verdict, source, since, until or before"
                    ),
                );
            }
        }
    }
    match state.store.list_async(filter).await {
        Ok(rows) => json_response(StatusCode::OK, &json!(rows)),
        Err(err) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not read the store: {err:#}"),
        ),
    }
}

fn lookup_failure(err: LookupError) -> Response<Full<Bytes>> {
    let status = match &err {
        LookupError::NotFound(_) => StatusCode::NOT_FOUND,
        LookupError::Ambiguous(..) | LookupError::Malformed(_) => StatusCode::BAD_REQUEST,
        LookupError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, err.to_string())
}

async fn get(state: &State, id: &str) -> Response<Full<Bytes>> {
    match state.store.get_async(id.to_string()).await {
        Ok(ex) => json_response(StatusCode::OK, &exchange_json(&ex)),
        Err(err) => lookup_failure(err),
    }
}

async fn clear(state: &State) -> Response<Full<Bytes>> {
    match state.store.clear().await {
        Ok(()) => json_response(StatusCode::OK, &json!({ "cleared": true })),
        Err(err) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not clear the store: {err:#}"),
        ),
    }
}

/// `POST /api/requests/{id}/replay` body; both fields optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    to: Option<String>,
    #[serde(default)]
    resign: bool,
}

async fn replay(state: &State, id: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let bytes = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is over 64 KiB",
            );
        }
    };
    let body: ReplayBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        ReplayBody::default()
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(body) => body,
            Err(err) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the body must be JSON like {{\"to\": \"http://127.0.0.1:5000\"}}: {err}"
                    ),
                );
            }
        }
    };
    let to = match body.to.as_deref().map(Target::parse).transpose() {
        Ok(to) => to,
        Err(err) => return error(StatusCode::BAD_REQUEST, format!("to: {err}")),
    };
    let original = match state.store.get_async(id.to_string()).await {
        Ok(ex) => ex,
        Err(err) => return lookup_failure(err),
    };
    let resign = match (body.resign, &state.resign) {
        (false, _) => None,
        (true, Some(resign)) => Some(resign.clone()),
        (true, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "resign needs the signing secret: start listen with --verify PROVIDER=SECRET or add it to hooktap.toml",
            );
        }
    };
    let opts = ReplayOptions { to, resign };
    match replay_one(&state.forwarder, &original, &opts).await {
        Ok(done) => {
            let mut body = done.summary_json();
            body["exchange"] = exchange_json(&done.exchange);
            json_response(StatusCode::OK, &body)
        }
        Err(err @ ReplayError::Refused(_)) => error(StatusCode::CONFLICT, err.to_string()),
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    }
}
