//! What every scheme shares with the verifier: the context of one check ([`Ctx`]), why a
//! re-signing failed ([`SignError`]), and setting a header on a recorded request.

use crate::exchange::RecordedRequest;

use super::{Secret, Verdict};

/// What a scheme needs to check one request.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    /// Provider name (built-in or generic).
    pub provider: &'a str,
    /// The request.
    pub req: &'a RecordedRequest,
    /// The public URL the sender called, for schemes that sign it.
    pub url: Option<&'a str>,
    /// The time to check against (or to sign at), unix seconds.
    pub now: i64,
    /// The configured secret.
    pub secret: &'a Secret,
}

impl Ctx<'_> {
    /// The same context over another request.
    pub fn with<'b>(&'b self, req: &'b RecordedRequest) -> Ctx<'b> {
        Ctx { req, ..*self }
    }
}

/// Why a request could not be re-signed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    /// No provider recognised and none pinned.
    #[error("no webhook provider is recognised from the headers; pin one with --provider")]
    NoProvider,
    /// No secret for the provider.
    #[error("no secret is configured for {0}; pass --verify {0}=SECRET or add it to hooktap.toml")]
    NoSecret(String),
    /// The configured key is public: only the provider can sign.
    #[error("{0} signs with a private key only {0} has, so hooktap cannot re-sign it")]
    PublicKeyOnly(String),
    /// The scheme signs the URL and none is known.
    #[error("{0} signs the URL the request is sent to; give the URL (--to or --url)")]
    NeedsUrl(String),
    /// Something else about this request.
    #[error("cannot re-sign for {0}: {1}")]
    Unsupported(String, String),
}

impl SignError {
    /// A sign error from the verdict a missing part produced.
    pub(crate) fn from_verdict(provider: &str, verdict: Verdict) -> Self {
        let why = match verdict {
            Verdict::MissingHeader { header, .. } => format!("the request has no {header} header"),
            Verdict::Invalid { reason, .. } => reason,
            other => other.label().to_string(),
        };
        SignError::Unsupported(provider.to_string(), why)
    }
}

/// Sets header `name` (lowercase) to `value`: replaces the first occurrence, drops the
/// others, or appends it.
pub(crate) fn set_header(req: &mut RecordedRequest, name: &str, value: &str) {
    let mut seen = false;
    req.headers.retain_mut(|(n, v)| {
        if !n.eq_ignore_ascii_case(name) {
            return true;
        }
        if seen {
            return false;
        }
        seen = true;
        *v = value.as_bytes().to_vec();
        true
    });
    if !seen {
        req.headers
            .push((name.to_string(), value.as_bytes().to_vec()));
    }
}
