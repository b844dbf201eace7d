//! `listen` with no app (`--respond STATUS[:BODY]`): the answer hooktap gives itself, as
//! webhook.site does, so a provider's deliveries can be seen before the handler exists.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};

use std::sync::Arc;
use std::time::Duration;

use super::record::{Recorder, Side, Sink};
use crate::exchange::Body;
use crate::web::body::{BoxBody, BoxError, TeeBody};
use crate::web::headers::header_list;

/// The response every request gets when `listen` has no app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Respond {
    /// The status sent.
    pub status: StatusCode,
    /// The body sent (empty for 204 and 304).
    pub body: Bytes,
    /// Its content type: JSON when the body parses as JSON, else plain text.
    pub content_type: &'static str,
}

impl Default for Respond {
    fn default() -> Self {
        Self::status_only(StatusCode::OK)
    }
}

impl Respond {
    /// `status` with hooktap's short JSON body, e.g.
    /// `{"ok":true,"hooktap":"no app: answering 200"}`.
    pub fn status_only(status: StatusCode) -> Self {
        let body = serde_json::json!({
            "ok": status.is_success(),
            "hooktap": format!("no app: answering {}", status.as_u16()),
        });
        Self::with_body(status, Bytes::from(body.to_string()))
    }

    fn with_body(status: StatusCode, body: Bytes) -> Self {
        let bodiless = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        let body = if bodiless { Bytes::new() } else { body };
        let content_type = if serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        };
        Self {
            status,
            body,
            content_type,
        }
    }

    /// Parses `STATUS[:BODY]`: `200`, `404`, `202:accepted`, `200:{"received":true}`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (code, body) = match text.split_once(':') {
            Some((code, body)) => (code, Some(body)),
            None => (text, None),
        };
        let status = code
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (200..=599).contains(c))
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or_else(|| {
                format!("'{text}' is not STATUS[:BODY] with a status from 200 to 599, e.g. 200 or 202:accepted")
            })?;
        Ok(match body {
            Some(body) => Self::with_body(status, Bytes::from(body.to_string())),
            None => Self::status_only(status),
        })
    }

    /// What the startup line and the inspector's header say: `no app: answering 200`.
    pub fn summary(&self) -> String {
        format!("no app: answering {}", self.status.as_u16())
    }

    /// The HTTP response.
    pub fn response(&self) -> Response<BoxBody> {
        let body = Full::new(self.body.clone())
            .map_err(|never| match never {})
            .boxed_unsync();
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        if !self.body.is_empty() {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            );
        }
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        response
    }
}

/// How long hooktap, answering in place of an app, waits for a request's body.
const ANSWER_BODY_WAIT: Duration = Duration::from_secs(30);

/// Reads the whole request body into the record, then answers with `respond` and records
/// that answer, as an app would have.
pub(super) async fn answer<B>(
    respond: &Respond,
    recorder: Arc<Recorder>,
    body: B,
    capture_limit: usize,
) -> Response<BoxBody>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let sink = Box::new(Sink(recorder.clone(), Side::Request));
    let mut body = TeeBody::new(body, capture_limit, sink);
    let read = async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    };
    if tokio::time::timeout(ANSWER_BODY_WAIT, read).await.is_err() {
        recorder.fail(format!(
            "the request body did not arrive within {}",
            humantime::format_duration(ANSWER_BODY_WAIT)
        ));
    }
    drop(body);
    let response = respond.response();
    recorder.set_response(respond.status.as_u16(), header_list(response.headers()));
    recorder.with(|ex| {
        if let Some(recorded) = ex.response.as_mut() {
            recorded.body = Body::full(respond.body.to_vec());
        }
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_200_with_a_short_json_body() {
        let respond = Respond::default();
        assert_eq!(respond.status, StatusCode::OK);
        assert_eq!(
            respond.body,
            r#"{"ok":true,"hooktap":"no app: answering 200"}"#
        );
        assert_eq!(respond.content_type, "application/json");
        assert_eq!(respond.summary(), "no app: answering 200");
    }

    #[test]
    fn status_and_body_parse() {
        let custom = Respond::parse("202:accepted").unwrap();
        assert_eq!(
            (custom.status, &custom.body[..], custom.content_type),
            (
                StatusCode::ACCEPTED,
                &b"accepted"[..],
                "text/plain; charset=utf-8"
            )
        );
        let json = Respond::parse(r#"200:{"a":1}"#).unwrap();
        assert_eq!(json.content_type, "application/json");
        let failing = Respond::parse("500").unwrap();
        assert!(failing.body.starts_with(br#"{"ok":false"#));
        assert!(Respond::parse("204").unwrap().body.is_empty());
        for bad in ["", "abc", "99", "700", "1xx:x"] {
            let err = Respond::parse(bad).expect_err(bad);
            assert!(err.contains("STATUS[:BODY]"), "{err}");
        }
    }
}
