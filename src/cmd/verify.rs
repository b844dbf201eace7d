//! `hooktap verify`: check signatures of recorded requests (with the secrets configured
//! now) or of a raw HTTP/1.1 request in a file. Exit code 0 only when all are valid.

use std::time::SystemTime;

use anyhow::Context;
use serde_json::json;

use super::requests::open;
use super::{UsageError, emit};
use crate::cli::VerifyArgs;
use crate::exchange::{RecordedRequest, unix_micros};
use crate::signature::{Verdict, explain};
use crate::store::LookupError;

/// Some request did not verify: `main` prints this sentence and exits with 1.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} requests did not verify")]
pub struct NotValid {
    /// How many were not valid.
    pub failed: usize,
    /// How many were checked.
    pub total: usize,
}

/// Runs `hooktap verify`.
pub fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let verifier = args.secrets.verifier()?;
    let mut results = Vec::new();
    if let Some(path) = &args.request {
        let bytes = std::fs::read(path)
            .with_context(|| format!("could not read the request file {}", path.display()))?;
        let request = parse_raw_request(&bytes).map_err(|why| {
            UsageError(format!(
                "{} is not an HTTP/1.1 request: {why}",
                path.display()
            ))
        })?;
        let now = args
            .at
            .unwrap_or_else(|| unix_micros(SystemTime::now()) / 1_000_000);
        results.push((None, verifier.check(&request, args.url.as_deref(), now)));
    } else {
        let store = open(&args.store)?;
        for id in &args.ids {
            let exchange = store.get(id).map_err(|err| match err {
                LookupError::Store(e) => anyhow::Error::new(e).context("could not read the store"),
                other => anyhow::Error::new(other),
            })?;
            let verdict = verifier.check_exchange(&exchange, args.url.as_deref(), args.at);
            results.push((Some(exchange.id.to_string()), verdict));
        }
    }
    let mut out = String::new();
    for (id, verdict) in &results {
        out.push_str(&render(id.as_deref(), verdict.as_ref(), args.json));
    }
    emit(out.as_bytes())?;
    let failed = results
        .iter()
        .filter(|(_, v)| !v.as_ref().is_some_and(Verdict::is_valid))
        .count();
    if failed > 0 {
        return Err(NotValid {
            failed,
            total: results.len(),
        }
        .into());
    }
    Ok(())
}

fn render(id: Option<&str>, verdict: Option<&Verdict>, json: bool) -> String {
    let text = match verdict {
        Some(verdict) => explain(verdict),
        None => "no webhook provider recognised from the headers; pin one with --provider\n".into(),
    };
    if json {
        let value = json!({ "id": id, "verdict": verdict, "explanation": text.trim_end() });
        return format!("{value}\n");
    }
    match id {
        Some(id) => format!("{id}  {text}"),
        None => text,
    }
}

/// Parses a request line, `name: value` headers, a blank line and the body. A
/// `content-length` shorter than what follows cuts the body (an editor's final newline).
/// A raw request as `show --raw` prints it; a body longer than its `Content-Length` (an
/// editor's trailing newline) is cut to that length, as the server would read it.
fn parse_raw_request(bytes: &[u8]) -> Result<RecordedRequest, String> {
    let mut request = crate::web::message::parse_request(bytes).map_err(|e| e.to_string())?;
    let length = request
        .header("content-length")
        .and_then(|l| l.trim().parse::<usize>().ok())
        .filter(|l| *l <= request.body.bytes.len());
    if let Some(length) = length {
        request.body.bytes.truncate(length);
        request.body.size = length as u64;
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_requests_parse_with_crlf_or_lf() {
        let req = parse_raw_request(b"POST /h?x=1 HTTP/1.1\r\nX-Hub-Signature-256: sha256=ab\r\ncontent-length: 4\r\n\r\nbody\n")
            .expect("valid");
        assert_eq!(req.uri, "/h?x=1");
        assert_eq!(req.header("x-hub-signature-256"), Some("sha256=ab"));
        assert_eq!(req.body.bytes, b"body");
        let req = parse_raw_request(b"GET / HTTP/1.1\nA: b\n\nrest\r\n").expect("valid");
        assert_eq!(req.body.bytes, b"rest\r\n");
        assert!(parse_raw_request(b"garbage").is_err());
        assert!(parse_raw_request(b"POST / HTTP/1.1\r\nno colon\r\n\r\n").is_err());
    }
}
