//! Standard Webhooks and Svix (so also Clerk, Resend and GitLab signing tokens):
//! `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, key = base64 after `whsec_`.

use crate::exchange::RecordedRequest;

use super::ctx::{Ctx, SignError, set_header};
use super::mac::{self, Algorithm, Encoding, Freshness, fresh_id};
use super::{MacCheck, Verdict};

/// Tolerance both ways, seconds.
const TOLERANCE_SECS: i64 = 300;
/// At most this many signatures are read from one header.
const MAX_SIGNATURES: usize = 64;

/// The header family a request uses: `webhook-*` or `svix-*`.
fn family(req: &RecordedRequest) -> &'static str {
    let svix = ["svix-signature", "svix-id", "svix-timestamp"]
        .iter()
        .any(|h| req.header(h).is_some());
    let standard = req.header("webhook-signature").is_some();
    if svix && !standard { "svix" } else { "webhook" }
}

fn signed(id: &str, stamp: &str, body: &[u8]) -> (Vec<u8>, String) {
    let mut bytes = format!("{id}.{stamp}.").into_bytes();
    bytes.extend_from_slice(body);
    let description = format!(
        "\"{{id}}.{{timestamp}}.{{body}}\" with id={id}, timestamp={stamp}, body {} bytes",
        body.len()
    );
    (bytes, description)
}

/// The verdict for the request in `ctx`.
pub fn verify(ctx: &Ctx<'_>) -> Verdict {
    let prefix = family(ctx.req);
    let [sig_h, id_h, ts_h] = ["signature", "id", "timestamp"].map(|n| format!("{prefix}-{n}"));
    let Some(value) = ctx.req.header(&sig_h) else {
        return Verdict::missing(ctx.provider, &sig_h);
    };
    let Some(id) = ctx.req.header(&id_h) else {
        return Verdict::missing(ctx.provider, &id_h);
    };
    let Some(stamp) = ctx.req.header(&ts_h) else {
        return Verdict::missing(ctx.provider, &ts_h);
    };
    let Ok(signed_at) = stamp.trim().parse::<i64>() else {
        return Verdict::invalid(
            ctx.provider,
            Some(&ts_h),
            format!("{ts_h} is not a number of seconds"),
        );
    };
    let Some(key) = ctx.secret.standard_webhooks_key() else {
        return Verdict::invalid(
            ctx.provider,
            None,
            "the configured secret is not whsec_ followed by base64",
        );
    };
    let entries: Vec<&str> = value.split_whitespace().take(MAX_SIGNATURES + 1).collect();
    if entries.len() > MAX_SIGNATURES {
        return Verdict::invalid(
            ctx.provider,
            Some(&sig_h),
            format!("{sig_h} has more than {MAX_SIGNATURES} signatures"),
        );
    }
    let received = entries
        .iter()
        .filter_map(|e| e.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .map(|(_, sig)| sig.to_string())
        .collect();
    let (bytes, description) = signed(id, stamp, &ctx.req.body.bytes);
    let expected = mac::encode(
        Encoding::Base64,
        &mac::hmac(Algorithm::Sha256, &key, &[&bytes]),
    );
    MacCheck {
        provider: ctx.provider,
        header: &sig_h,
        expected,
        received,
        signed: description,
        freshness: Some(Freshness {
            signed_at,
            tolerance_secs: TOLERANCE_SECS,
            both_ways: true,
        }),
    }
    .verdict(ctx.now)
}

/// Writes a fresh id, timestamp and `v1` signature in the family the request already uses.
pub fn sign(ctx: &Ctx<'_>, req: &mut RecordedRequest) -> Result<(), SignError> {
    let key = ctx.secret.standard_webhooks_key().ok_or_else(|| {
        SignError::Unsupported(
            ctx.provider.to_string(),
            "the configured secret is not whsec_ followed by base64".into(),
        )
    })?;
    let prefix = family(req);
    let id = fresh_id("msg_");
    let stamp = ctx.now.to_string();
    let (bytes, _) = signed(&id, &stamp, &req.body.bytes);
    let sig = mac::encode(
        Encoding::Base64,
        &mac::hmac(Algorithm::Sha256, &key, &[&bytes]),
    );
    set_header(req, &format!("{prefix}-id"), &id);
    set_header(req, &format!("{prefix}-timestamp"), &stamp);
    set_header(req, &format!("{prefix}-signature"), &format!("v1,{sig}"));
    Ok(())
}
