//! hooktap's own answers to a sender (502, 504, 429, …): one plain-text line naming the
//! problem, the same from the agent and the relay.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::web::body::BoxBody;

/// A plain-text response of hooktap's own, one line naming the problem.
pub fn error_response(status: StatusCode, reason: &str) -> Response<BoxBody> {
    let body = Full::new(Bytes::from(format!("hooktap: {reason}\n")))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
