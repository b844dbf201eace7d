//! The relay's refusals that more than one path gives: a body too large (413), a body that
//! failed or timed out (400, 408), and closing the connection after an answer.

use std::sync::atomic::Ordering;

use http::{HeaderValue, Response, StatusCode, header};

use super::Shared;
use crate::web::body::BoxBody;
use crate::web::error_response;

pub(super) fn too_large(limit: u64) -> Response<BoxBody> {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the request body is larger than the relay's limit of {limit} bytes"),
    )
}

/// The answer to a sender whose body failed: 408, 413 or 400.
pub(super) fn body_failed(shared: &Shared, status: StatusCode) -> Response<BoxBody> {
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

/// Asks the sender's client to close the connection after this answer: what follows on
/// it cannot be trusted to be framed as the relay thinks.
pub(super) fn closing(mut response: Response<BoxBody>) -> Response<BoxBody> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
