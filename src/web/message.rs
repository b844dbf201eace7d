//! HTTP/1.1 request messages as text: the one writer of a recorded request (`show --raw`,
//! the inspector's Raw tab, `$EDITOR`) and its parser (`replay --edit`, `verify --request`).

use crate::exchange::{Body, Exchange, RecordedRequest};

/// Why a message is not an HTTP/1.1 request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but whitespace.
    #[error("the message is empty")]
    Empty,
    /// The first line is not `METHOD TARGET HTTP/1.x`.
    #[error("line 1 must be a request line like `POST /hook HTTP/1.1`, not '{0}'")]
    RequestLine(String),
    /// A header line without a colon, or with a bad name or value.
    #[error("line {line}: '{text}' is not a header line (`Name: value`)")]
    Header {
        /// 1-based line number.
        line: usize,
        /// The line as found.
        text: String,
    },
    /// `Transfer-Encoding: chunked` is not supported in a message file.
    #[error(
        "line {0}: chunked bodies are not supported here; remove Transfer-Encoding and write the body as is"
    )]
    Chunked(usize),
}

/// Writes `req` as an HTTP/1.1 message: request line, headers as recorded, a blank line,
/// the body bytes. Lines end with CRLF when `crlf`, else with LF (kinder in an editor).
pub fn format_request(req: &RecordedRequest, crlf: bool) -> Vec<u8> {
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut out = format!("{} {} HTTP/1.1", req.method, req.uri).into_bytes();
    out.extend_from_slice(eol);
    for (name, value) in &req.headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(eol);
    }
    out.extend_from_slice(eol);
    out.extend_from_slice(&req.body.bytes);
    out
}

/// The request of `ex` as an HTTP/1.1 message with CRLF lines. A chunked request is
/// shown with `Content-Length` instead, since the body is stored de-chunked.
pub fn raw_request(ex: &Exchange) -> Vec<u8> {
    let chunked = ex
        .request
        .headers
        .iter()
        .any(|(n, _)| n == "transfer-encoding");
    if !chunked {
        return format_request(&ex.request, true);
    }
    let mut req = ex.request.clone();
    req.headers.retain(|(n, _)| n != "transfer-encoding");
    req.headers.push((
        "content-length".into(),
        req.body.bytes.len().to_string().into_bytes(),
    ));
    format_request(&req, true)
}

/// Splits off one line (ending in LF or CRLF); returns the line and the rest.
fn next_line(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => {
            let line = &data[..at];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (line, Some(&data[at + 1..]))
        }
        None => (data, None),
    }
}

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses an HTTP/1.1 request message. Lines may end in CRLF or LF; leading blank lines
/// are skipped; everything after the blank line that ends the headers is the body, byte
/// for byte (a `Content-Length` header is kept as written, not enforced). Header names are
/// lowercased, as hooktap records them. The request target may be a path (`/hook?x=1`)
/// or an absolute URL, of which the path and query are kept.
pub fn parse_request(data: &[u8]) -> Result<RecordedRequest, ParseError> {
    let mut rest = data;
    let mut line_no = 0;
    let request_line = loop {
        let (line, after) = next_line(rest);
        line_no += 1;
        if !line.iter().all(u8::is_ascii_whitespace) {
            rest = after.unwrap_or(&[]);
            break line;
        }
        match after {
            Some(after) => rest = after,
            None => return Err(ParseError::Empty),
        }
    };
    let text = String::from_utf8_lossy(request_line).into_owned();
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [method, target, version] = parts.as_slice() else {
        return Err(ParseError::RequestLine(text));
    };
    if !version.starts_with("HTTP/1.") || http::Method::from_bytes(method.as_bytes()).is_err() {
        return Err(ParseError::RequestLine(text));
    }
    let uri = if target.starts_with('/') {
        target.to_string()
    } else {
        match target.parse::<http::Uri>() {
            Ok(u) if u.scheme().is_some() => u
                .path_and_query()
                .map_or_else(|| "/".to_string(), |pq| pq.as_str().to_string()),
            _ => return Err(ParseError::RequestLine(text)),
        }
    };

    let mut headers = Vec::new();
    let body = loop {
        if rest.is_empty() {
            break Vec::new();
        }
        let (line, after) = next_line(rest);
        line_no += 1;
        rest = after.unwrap_or(&[]);
        if line.is_empty() {
            break rest.to_vec();
        }
        let bad = || ParseError::Header {
            line: line_no,
            text: String::from_utf8_lossy(line).into_owned(),
        };
        let colon = line.iter().position(|&b| b == b':').ok_or_else(bad)?;
        let name = &line[..colon];
        if !valid_name(name) {
            return Err(bad());
        }
        let value = line[colon + 1..].trim_ascii();
        if http::HeaderValue::from_bytes(value).is_err() {
            return Err(bad());
        }
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        if name == "transfer-encoding" && value.eq_ignore_ascii_case(b"chunked") {
            return Err(ParseError::Chunked(line_no));
        }
        headers.push((name, value.to_vec()));
    };
    Ok(RecordedRequest {
        method: method.to_string(),
        uri,
        version: "HTTP/1.1".into(),
        headers,
        body: Body::full(body),
    })
}

/// Sets `Content-Length` to the body's length (replacing any, or adding one when the
/// body is not empty) and drops `Transfer-Encoding`.
pub fn fix_content_length(req: &mut RecordedRequest) {
    let len = req.body.bytes.len();
    let had = req.headers.iter().any(|(n, _)| n == "content-length");
    req.headers.retain(|(n, _)| n != "transfer-encoding");
    let mut replaced = false;
    req.headers.retain_mut(|(n, v)| {
        if n != "content-length" {
            return true;
        }
        if replaced {
            return false;
        }
        *v = len.to_string().into_bytes();
        replaced = true;
        true
    });
    if !had && len > 0 {
        req.headers
            .push(("content-length".into(), len.to_string().into_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formatted_request_parses_back_the_same() {
        let req = RecordedRequest {
            method: "POST".into(),
            uri: "/hook?x=1".into(),
            version: "HTTP/1.1".into(),
            headers: vec![
                ("content-type".into(), b"application/json".to_vec()),
                ("x-dup".into(), b"1".to_vec()),
                ("x-dup".into(), b"2".to_vec()),
            ],
            body: Body::full(b"{\"a\":1}\r\n\r\nmore".to_vec()),
        };
        for crlf in [true, false] {
            assert_eq!(parse_request(&format_request(&req, crlf)).unwrap(), req);
        }
    }

    #[test]
    fn forms_and_errors() {
        let req = parse_request(b"\nGET http://x.test/a?b=1 HTTP/1.1\nX-A:  v \n").unwrap();
        assert_eq!(req.uri, "/a?b=1");
        assert_eq!(req.headers, vec![("x-a".to_string(), b"v".to_vec())]);
        assert!(req.body.bytes.is_empty());
        assert_eq!(parse_request(b" \n\n"), Err(ParseError::Empty));
        assert!(matches!(
            parse_request(b"hello\n"),
            Err(ParseError::RequestLine(_))
        ));
        assert!(matches!(
            parse_request(b"POST / HTTP/1.1\nno colon\n\n"),
            Err(ParseError::Header { line: 2, .. })
        ));
        assert_eq!(
            parse_request(b"POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n"),
            Err(ParseError::Chunked(2))
        );
    }

    #[test]
    fn content_length_is_fixed_up() {
        let mut req =
            parse_request(b"POST / HTTP/1.1\ncontent-length: 2\ntransfer-encoding: gzip\n\nhello")
                .unwrap();
        fix_content_length(&mut req);
        assert_eq!(
            req.headers,
            vec![("content-length".to_string(), b"5".to_vec())]
        );
    }
}
