//! Twilio: base64 HMAC-SHA1 (or SHA-256 with a SharedKey) of the URL followed by the
//! sorted, decoded form parameters; JSON bodies are bound by `bodySHA256` in the URL.

use sha2::Digest;

use crate::exchange::RecordedRequest;

use super::ctx::{Ctx, SignError, set_header};
use super::mac::{self, Algorithm, Encoding};
use super::{MacCheck, Verdict};
use crate::web::form::form_decode;

const HEADER: &str = "x-twilio-signature";
const SETTINGS: &str = "x-twilio-webhooks-signature-settings";

fn algorithm(req: &RecordedRequest) -> Algorithm {
    let sha256 = req.header(SETTINGS).is_some_and(|settings| {
        settings
            .split(',')
            .any(|item| item.trim().eq_ignore_ascii_case("algorithm=HMAC_SHA256"))
    });
    if sha256 {
        Algorithm::Sha256
    } else {
        Algorithm::Sha1
    }
}

/// The URL with and without the default port, as the SDKs try both.
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return variants;
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let default = if scheme.eq_ignore_ascii_case("https") {
        ":443"
    } else {
        ":80"
    };
    if let Some(host) = authority.strip_suffix(default) {
        variants.push(format!("{scheme}://{host}{tail}"));
    } else if !authority.contains(':') {
        variants.push(format!("{scheme}://{authority}{default}{tail}"));
    }
    variants
}

/// The signed string for `url`: the URL, then each sorted name+value for form bodies.
fn signed(url: &str, req: &RecordedRequest) -> Vec<u8> {
    let mut bytes = url.as_bytes().to_vec();
    if url.contains("bodySHA256=") || !req.method.eq_ignore_ascii_case("POST") {
        return bytes;
    }
    let mut params = form_decode(&req.body.bytes);
    params.sort();
    params.dedup();
    for (name, value) in params {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(value.as_bytes());
    }
    bytes
}

/// The `bodySHA256` query value, if the URL has one.
fn body_hash_param(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("bodySHA256="))
}

/// The verdict for the request in `ctx`.
pub fn verify(ctx: &Ctx<'_>) -> Verdict {
    let Some(received) = ctx.req.header(HEADER) else {
        return Verdict::missing(ctx.provider, HEADER);
    };
    let Some(url) = ctx.url else {
        return Verdict::invalid(
            ctx.provider,
            Some(HEADER),
            "Twilio signs the public URL it called; pass it with --url (or listen through a relay)",
        );
    };
    if let Some(hash) = body_hash_param(url) {
        let actual = hex::encode(sha2::Sha256::digest(&ctx.req.body.bytes));
        if !mac::ct_eq(&actual, hash) {
            return Verdict::invalid(
                ctx.provider,
                Some(HEADER),
                format!("the body's SHA-256 is {actual}, not the bodySHA256 in the URL"),
            );
        }
    }
    let algorithm = algorithm(ctx.req);
    let variants = url_variants(url);
    let macs: Vec<String> = variants
        .iter()
        .map(|u| {
            let bytes = signed(u, ctx.req);
            mac::encode(
                Encoding::Base64,
                &mac::hmac(algorithm, ctx.secret.bytes(), &[&bytes]),
            )
        })
        .collect();
    let received = vec![received.trim().to_string()];
    let matching = macs
        .iter()
        .position(|m| mac::any_ct_eq(m, &received))
        .unwrap_or(0);
    MacCheck {
        provider: ctx.provider,
        header: HEADER,
        expected: macs[matching].clone(),
        received,
        signed: format!(
            "the URL {} followed by each form parameter name+value sorted by name, {algorithm:?}",
            variants[matching]
        ),
        freshness: None,
    }
    .verdict(ctx.now)
}

/// Writes a fresh signature for the URL the request will be sent to.
pub fn sign(ctx: &Ctx<'_>, req: &mut RecordedRequest) -> Result<(), SignError> {
    let url = ctx
        .url
        .ok_or_else(|| SignError::NeedsUrl(ctx.provider.to_string()))?;
    let bytes = signed(url, req);
    let sig = mac::encode(
        Encoding::Base64,
        &mac::hmac(algorithm(req), ctx.secret.bytes(), &[&bytes]),
    );
    set_header(req, HEADER, &sig);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        assert_eq!(
            form_decode(b"a=H%C3%A9llo+w&b=%2B1&c&d=%zz%"),
            vec![
                ("a".into(), "Héllo w".into()),
                ("b".into(), "+1".into()),
                ("c".into(), String::new()),
                ("d".into(), "%zz%".into())
            ]
        );
    }

    #[test]
    fn default_ports_are_tried_both_ways() {
        assert_eq!(
            url_variants("https://example.com/x?y"),
            ["https://example.com/x?y", "https://example.com:443/x?y"]
        );
        assert_eq!(
            url_variants("http://example.com:80"),
            ["http://example.com:80", "http://example.com"]
        );
    }
}
