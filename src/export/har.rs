//! `export --har`: HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), which
//! browsers' developer tools and HTTP tools import.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::exchange::{Body, Exchange, Header, format_time, header_value};

/// What comes before the entries.
pub fn prefix() -> String {
    let creator = json!({ "name": "hooktap", "version": env!("CARGO_PKG_VERSION") });
    format!("{{\"log\":{{\"version\":\"1.2\",\"creator\":{creator},\"pages\":[],\"entries\":[")
}

/// What comes after the entries.
pub const SUFFIX: &str = "]}}\n";

fn headers(headers: &[Header]) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|(n, v)| json!({ "name": n, "value": String::from_utf8_lossy(v) }))
            .collect(),
    )
}

fn cookies(headers: &[Header], name: &str) -> Value {
    let list = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| {
            let v = String::from_utf8_lossy(v).into_owned();
            let pairs: Vec<String> = if name == "cookie" {
                v.split(';').map(|p| p.trim().to_string()).collect()
            } else {
                // Set-Cookie: one cookie per header, attributes after the first ';'.
                v.split(';')
                    .next()
                    .map(|p| p.trim().to_string())
                    .into_iter()
                    .collect()
            };
            pairs
        })
        .filter_map(|pair| {
            let (n, v) = pair.split_once('=')?;
            Some(json!({ "name": n.trim(), "value": v.trim() }))
        })
        .collect();
    Value::Array(list)
}

fn query_string(uri: &str) -> Value {
    let Some((_, query)) = uri.split_once('?') else {
        return json!([]);
    };
    Value::Array(
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
                json!({ "name": crate::web::form::percent_decode(n), "value": crate::web::form::percent_decode(v) })
            })
            .collect(),
    )
}

/// Text for UTF-8 bodies; base64 (and the encoding's name) otherwise.
fn text_of(body: &Body) -> (String, Option<&'static str>) {
    match std::str::from_utf8(&body.bytes) {
        Ok(text) => (text.to_string(), None),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&body.bytes),
            Some("base64"),
        ),
    }
}

/// One HAR entry.
pub fn entry(ex: &Exchange) -> Value {
    let req = &ex.request;
    let ms = |us: i64| us as f64 / 1000.0;
    let mut request = json!({
        "method": req.method,
        "url": ex.url(),
        "httpVersion": req.version,
        "cookies": cookies(&req.headers, "cookie"),
        "headers": headers(&req.headers),
        "queryString": query_string(&req.uri),
        "headersSize": -1,
        "bodySize": req.body.size,
    });
    if req.body.size > 0 {
        let (text, encoding) = text_of(&req.body);
        let mut post = json!({
            "mimeType": req.header("content-type").unwrap_or(""),
            "text": text,
        });
        if let Some(encoding) = encoding {
            // HAR has no encoding for request bodies; tools that know the `_` fields
            // (and hooktap) read it, others see base64 text.
            post["_encoding"] = json!(encoding);
        }
        if req.body.truncated() {
            post["comment"] = json!("cut at hooktap's capture limit");
        }
        request["postData"] = post;
    }
    let response = match &ex.response {
        Some(r) => {
            let (text, encoding) = text_of(&r.body);
            let mime = header_value(&r.headers, "content-type").unwrap_or("");
            let mut content = json!({ "size": r.body.size, "mimeType": mime, "text": text });
            if let Some(encoding) = encoding {
                content["encoding"] = json!(encoding);
            }
            if r.body.truncated() {
                content["comment"] = json!("cut at hooktap's capture limit");
            }
            json!({
                "status": r.status,
                "statusText": http::StatusCode::from_u16(r.status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or(""),
                "httpVersion": "HTTP/1.1",
                "cookies": cookies(&r.headers, "set-cookie"),
                "headers": headers(&r.headers),
                "content": content,
                "redirectURL": header_value(&r.headers, "location").unwrap_or(""),
                "headersSize": -1,
                "bodySize": r.body.size,
            })
        }
        // No response: what browsers write for a failed request.
        None => json!({
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": { "size": 0, "mimeType": "x-unknown" },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_error": ex.error,
        }),
    };
    let wait = ex.ttfb_us.unwrap_or(ex.duration_us);
    json!({
        "startedDateTime": format_time(ex.received_at_us),
        "time": ms(ex.duration_us),
        "request": request,
        "response": response,
        "cache": {},
        "timings": {
            "blocked": -1, "dns": -1, "connect": -1, "ssl": -1,
            "send": 0,
            "wait": ms(wait),
            "receive": ms((ex.duration_us - wait).max(0)),
        },
        "comment": ex.error.clone().unwrap_or_default(),
        "_hooktapId": ex.id,
        "_source": ex.source,
        "_replayOf": ex.replay_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_split_and_decoded() {
        assert_eq!(
            query_string("/a?x=1&y=%2Fz&flag"),
            json!([
                {"name": "x", "value": "1"},
                {"name": "y", "value": "/z"},
                {"name": "flag", "value": ""},
            ])
        );
        assert_eq!(query_string("/a"), json!([]));
    }
}
