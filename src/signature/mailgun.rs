//! Mailgun: the signature is in the body (`signature.{timestamp,token,signature}` in JSON,
//! or `timestamp`, `token`, `signature` form fields): hex HMAC-SHA256 of timestamp + token.

use serde_json::Value;

use crate::exchange::{Body, RecordedRequest};

use super::ctx::{Ctx, SignError};
use super::mac::{self, Algorithm, Encoding, fresh_id};
use super::{MacCheck, Verdict};
use crate::web::form::form_decode;

/// The signature fields of a Mailgun body.
struct Fields {
    timestamp: String,
    token: String,
    signature: String,
}

fn json_fields(body: &[u8]) -> Option<Fields> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let sig = value.get("signature")?;
    let field = |name: &str| sig.get(name)?.as_str().map(str::to_string);
    Some(Fields {
        timestamp: field("timestamp")?,
        token: field("token")?,
        signature: field("signature")?,
    })
}

fn form_fields(body: &[u8]) -> Option<Fields> {
    let params = form_decode(body);
    let field = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    Some(Fields {
        timestamp: field("timestamp")?,
        token: field("token")?,
        signature: field("signature")?,
    })
}

/// True when the body carries Mailgun's signature fields (used by detection).
pub fn looks_signed(body: &[u8]) -> bool {
    // A cheap look first: most bodies are not Mailgun's and are not parsed at all.
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    body.len() < (1 << 20)
        && (has(b"\"signature\"") && json_fields(body).is_some()
            || has(b"signature=") && form_fields(body).is_some())
}

fn fields(body: &[u8]) -> Option<Fields> {
    json_fields(body).or_else(|| form_fields(body))
}

fn compute(ctx: &Ctx<'_>, fields: &Fields) -> String {
    let bytes = [fields.timestamp.as_bytes(), fields.token.as_bytes()];
    mac::encode(
        Encoding::Hex,
        &mac::hmac(Algorithm::Sha256, ctx.secret.bytes(), &bytes),
    )
}

/// The verdict for the request in `ctx`.
pub fn verify(ctx: &Ctx<'_>) -> Verdict {
    let Some(fields) = fields(&ctx.req.body.bytes) else {
        return Verdict::invalid(
            ctx.provider,
            None,
            "the body has no signature.timestamp, signature.token and signature.signature",
        );
    };
    MacCheck {
        provider: ctx.provider,
        header: "body signature.signature",
        expected: compute(ctx, &fields),
        received: vec![fields.signature.clone()],
        signed: format!(
            "\"{{timestamp}}{{token}}\" with timestamp={}, token={}",
            fields.timestamp, fields.token
        ),
        freshness: None,
    }
    .verdict(ctx.now)
}

/// Rewrites a JSON body's `signature` object with a fresh timestamp, token and signature.
/// The body is re-serialised (Mailgun does not sign the body, only these fields).
pub fn sign(ctx: &Ctx<'_>, req: &mut RecordedRequest) -> Result<(), SignError> {
    let unsupported = |why: &str| SignError::Unsupported(ctx.provider.to_string(), why.into());
    let mut value: Value = serde_json::from_slice(&req.body.bytes)
        .map_err(|_| unsupported("only JSON Mailgun bodies can be re-signed"))?;
    let fields = Fields {
        timestamp: ctx.now.to_string(),
        token: fresh_id(""),
        signature: String::new(),
    };
    let signature = compute(ctx, &fields);
    let sig = value
        .get_mut("signature")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| unsupported("the body has no signature object"))?;
    sig.insert("timestamp".into(), fields.timestamp.into());
    sig.insert("token".into(), fields.token.into());
    sig.insert("signature".into(), signature.into());
    let bytes =
        serde_json::to_vec(&value).map_err(|_| unsupported("the body cannot be written"))?;
    req.body = Body::full(bytes);
    Ok(())
}
