//! [`Verifier`]: picks the provider for a request, checks it against the configured secret,
//! and re-signs requests for replay.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::exchange::{Exchange, RecordedRequest};

pub use super::ctx::SignError;
use super::ctx::{Ctx, set_header};
use super::detect::{self, Strength};
use super::template::TemplateScheme;
use super::{Secret, Verdict, mailgun, schemes};

/// The URL a sender most likely signed (Twilio, Square and HubSpot sign it): the public URL
/// the request arrived on, joined with the path and query unless it already ends with them;
/// for local captures, the URL it was forwarded to (the target), the best guess there is.
pub fn signed_url(exchange: &Exchange) -> String {
    let uri = &exchange.request.uri;
    match &exchange.public_url {
        Some(public) if public.ends_with(uri.as_str()) => public.clone(),
        Some(public) => format!("{}{uri}", public.trim_end_matches('/')),
        None => exchange.url(),
    }
}

#[derive(Default)]
struct Inner {
    secrets: BTreeMap<String, Secret>,
    generic: Vec<(String, TemplateScheme)>,
    pin: Option<String>,
}

/// Checks and re-signs webhooks with the configured secrets. Cheap to clone.
#[derive(Clone, Default)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("providers", &self.inner.secrets.keys().collect::<Vec<_>>())
            .field("pin", &self.inner.pin)
            .finish()
    }
}

impl Verifier {
    /// A verifier from secrets by provider name, generic schemes by name, and an optional
    /// pinned provider (used for every request instead of detection).
    pub fn new(
        secrets: impl IntoIterator<Item = (String, Secret)>,
        generic: Vec<(String, TemplateScheme)>,
        pin: Option<String>,
    ) -> Self {
        Verifier {
            inner: Arc::new(Inner {
                secrets: secrets.into_iter().collect(),
                generic,
                pin,
            }),
        }
    }

    /// A verifier with only `provider`'s secret (and the generic schemes) that checks and
    /// signs every request as `provider`'s: what `send` signs a sample event with.
    pub fn pinned(&self, provider: &str) -> Verifier {
        let secrets = self
            .inner
            .secrets
            .iter()
            .filter(|(name, _)| *name == provider)
            .map(|(name, secret)| (name.clone(), secret.clone()));
        Verifier::new(
            secrets,
            self.inner.generic.clone(),
            Some(provider.to_string()),
        )
    }

    /// The configured secrets as text, so exports can redact them.
    pub fn secret_texts(&self) -> impl Iterator<Item = &str> {
        self.inner.secrets.values().map(Secret::expose)
    }

    /// The headers the configured generic schemes sign in, so exports can redact them.
    pub fn generic_headers(&self) -> impl Iterator<Item = &str> {
        self.inner
            .generic
            .iter()
            .flat_map(|(_, scheme)| scheme.headers.iter().map(String::as_str))
    }

    /// The providers that have a secret.
    pub fn configured(&self) -> impl Iterator<Item = &str> {
        self.inner.secrets.keys().map(String::as_str)
    }

    /// True when the name is a built-in provider or a configured generic scheme.
    pub fn knows(&self, name: &str) -> bool {
        schemes::PROVIDERS.contains(&name) || self.generic(name).is_some()
    }

    fn generic(&self, name: &str) -> Option<&TemplateScheme> {
        self.inner
            .generic
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    /// The provider to check `req` as: the pinned one; else the first detected candidate
    /// with a secret; else the first one detected for sure.
    pub fn provider_for(&self, req: &RecordedRequest) -> Option<String> {
        if let Some(pin) = &self.inner.pin {
            return Some(pin.clone());
        }
        let mut candidates: Vec<(&str, Strength)> = self
            .inner
            .generic
            .iter()
            .filter(|(_, s)| s.headers.iter().any(|h| req.header(h).is_some()))
            .map(|(n, _)| (n.as_str(), Strength::Strong))
            .collect();
        candidates.extend(detect::candidates(req));
        let chosen = candidates
            .iter()
            .find(|(n, _)| self.inner.secrets.contains_key(*n))
            .or_else(|| candidates.iter().find(|(_, s)| *s == Strength::Strong))
            .map(|(n, _)| n.to_string());
        // Mailgun signs inside the body: only read it when nothing else matched and a
        // Mailgun key is configured, so other requests never pay for the scan.
        chosen.or_else(|| {
            (self.inner.secrets.contains_key("mailgun") && mailgun::looks_signed(&req.body.bytes))
                .then(|| "mailgun".to_string())
        })
    }

    /// The verdict for `req` as received at `at_unix_secs`; `url` is the public URL the
    /// sender called (Twilio, Square and HubSpot sign it). A request no provider is
    /// recognised on is `missing header` for the providers that have a secret; `None` when
    /// there are none (and no provider is pinned).
    pub fn check(
        &self,
        req: &RecordedRequest,
        url: Option<&str>,
        at_unix_secs: i64,
    ) -> Option<Verdict> {
        match self.provider_for(req) {
            Some(provider) => Some(self.check_as(provider, req, url, at_unix_secs)),
            None => self.unsigned(req, url, at_unix_secs),
        }
    }

    /// The verdict for a request that carries none of the headers detection reads, when
    /// secrets are configured: `missing header`, naming every configured provider (joined
    /// with `, `) and the headers they sign in. Mailgun signs inside the body, which
    /// detection has already looked at, so it is not named.
    fn unsigned(&self, req: &RecordedRequest, url: Option<&str>, at: i64) -> Option<Verdict> {
        let (mut providers, mut headers) = (Vec::new(), Vec::new());
        for name in self.inner.secrets.keys().filter(|n| *n != "mailgun") {
            if let Verdict::MissingHeader { header, .. } = self.check_as(name.clone(), req, url, at)
            {
                providers.push(name.as_str());
                if !headers.contains(&header) {
                    headers.push(header);
                }
            }
        }
        (!providers.is_empty()).then(|| Verdict::MissingHeader {
            provider: providers.join(", "),
            header: headers.join(", "),
        })
    }

    /// The verdict for `req` checked as `provider`'s.
    fn check_as(
        &self,
        provider: String,
        req: &RecordedRequest,
        url: Option<&str>,
        at_unix_secs: i64,
    ) -> Verdict {
        let Some(secret) = self.inner.secrets.get(&provider) else {
            return Verdict::NoSecret { provider };
        };
        let ctx = Ctx {
            provider: &provider,
            req,
            url,
            now: at_unix_secs,
            secret,
        };
        match self.generic(&provider) {
            Some(scheme) => scheme.verify(&ctx),
            None => schemes::verify(&ctx),
        }
    }

    /// The verdict of a recorded exchange as of its receipt (or `at`, unix seconds), with
    /// the URL the sender signed: `url` if given, else [`signed_url`].
    pub fn check_exchange(
        &self,
        exchange: &Exchange,
        url: Option<&str>,
        at: Option<i64>,
    ) -> Option<Verdict> {
        // Most traffic names no provider: detect first, build the URL only when needed.
        let at = at.unwrap_or(exchange.received_at_us.div_euclid(1_000_000));
        let Some(provider) = self.provider_for(&exchange.request) else {
            return self.unsigned(&exchange.request, url, at);
        };
        let url = url.map_or_else(|| signed_url(exchange), str::to_string);
        Some(self.check_as(provider, &exchange.request, Some(&url), at))
    }

    /// Replaces the signature headers of `req` (with a fresh timestamp and id where the
    /// scheme has them) so that [`Verifier::check`] at `now_unix_secs` says valid. Returns
    /// the provider. `url` is where the request will be sent, for schemes that sign it.
    pub fn resign(
        &self,
        req: &mut RecordedRequest,
        url: Option<&str>,
        now_unix_secs: i64,
    ) -> Result<String, SignError> {
        let provider = self.provider_for(req).ok_or(SignError::NoProvider)?;
        let secret = self
            .inner
            .secrets
            .get(&provider)
            .ok_or_else(|| SignError::NoSecret(provider.clone()))?;
        let original = req.clone();
        let ctx = Ctx {
            provider: &provider,
            req: &original,
            url,
            now: now_unix_secs,
            secret,
        };
        match self.generic(&provider) {
            Some(scheme) => scheme.sign(&ctx, req)?,
            None => schemes::sign(&ctx, req)?,
        }
        if req.body.bytes != original.body.bytes && req.header("content-length").is_some() {
            let length = req.body.bytes.len().to_string();
            set_header(req, "content-length", &length);
        }
        Ok(provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Source;

    fn exchange(public_url: Option<&str>) -> Exchange {
        let mut ex = Exchange::for_test("/hook?x=1");
        ex.source = Source::Relay;
        ex.public_url = public_url.map(str::to_string);
        ex.request.headers = vec![("a".into(), b"1".to_vec()), ("A".into(), b"2".to_vec())];
        ex
    }

    #[test]
    fn the_signed_url_joins_the_public_url_and_the_path() {
        let base = exchange(Some("https://relay.example/t/demo/"));
        assert_eq!(signed_url(&base), "https://relay.example/t/demo/hook?x=1");
        let full = exchange(Some("https://relay.example/t/demo/hook?x=1"));
        assert_eq!(signed_url(&full), "https://relay.example/t/demo/hook?x=1");
        assert_eq!(
            signed_url(&exchange(None)),
            "http://127.0.0.1:5000/hook?x=1"
        );
    }

    #[test]
    fn an_unsigned_request_is_missing_header_for_every_configured_provider() {
        let secrets = ["github", "stripe", "mailgun"].map(|p| {
            (
                p.to_string(),
                Secret::for_provider(p, "whsec_dGVzdA==").unwrap(),
            )
        });
        let verifier = Verifier::new(secrets, Vec::new(), None);
        let mut plain = exchange(None);
        plain.request.headers = vec![("content-type".into(), b"application/json".to_vec())];
        let expected = Verdict::MissingHeader {
            provider: "github, stripe".into(),
            header: "x-hub-signature-256, stripe-signature".into(),
        };
        assert_eq!(
            verifier.check(&plain.request, None, 0),
            Some(expected.clone())
        );
        assert_eq!(
            verifier.check_exchange(&plain, None, None),
            Some(expected.clone())
        );
        assert!(
            super::super::explain(&expected)
                .contains("expected one of x-hub-signature-256, stripe-signature"),
        );
        // Without secrets there is nothing to expect.
        assert_eq!(Verifier::default().check(&plain.request, None, 0), None);
    }

    #[test]
    fn set_header_replaces_duplicates_or_appends() {
        let mut req = exchange(None).request;
        set_header(&mut req, "a", "3");
        assert_eq!(req.headers, vec![("a".to_string(), b"3".to_vec())]);
        set_header(&mut req, "b", "4");
        assert_eq!(req.header("b"), Some("4"));
    }
}
