//! Public-key schemes, verify only: Discord (Ed25519) and SendGrid (ECDSA P-256).

// A verdict is the error path here: it is returned once per request, so its size is fine.
#![allow(clippy::result_large_err)]

use ed25519_dalek::Verifier as _;

use super::Verdict;
use super::ctx::Ctx;
use super::mac::decode_base64;

/// What a public-key check needs: the headers and the request.
struct Check<'a> {
    sig_header: &'static str,
    ts_header: &'static str,
    ctx: &'a Ctx<'a>,
}

impl Check<'_> {
    /// The signature header value and the signed message `timestamp || body`.
    fn parts(&self) -> Result<(&str, Vec<u8>), Verdict> {
        let req = self.ctx.req;
        let sig = req
            .header(self.sig_header)
            .ok_or_else(|| Verdict::missing(self.ctx.provider, self.sig_header))?;
        let stamp = req
            .header(self.ts_header)
            .ok_or_else(|| Verdict::missing(self.ctx.provider, self.ts_header))?;
        let mut message = stamp.as_bytes().to_vec();
        message.extend_from_slice(&req.body.bytes);
        Ok((sig.trim(), message))
    }

    /// Runs `verify(signature header, signed message)` and turns the outcome into a verdict.
    fn run(&self, verify: impl FnOnce(&str, &[u8]) -> Result<(), &'static str>) -> Verdict {
        match self.parts() {
            Ok((sig, message)) => self.outcome(verify(sig, &message), sig),
            Err(verdict) => verdict,
        }
    }

    fn outcome(&self, verified: Result<(), &str>, received: &str) -> Verdict {
        match verified {
            Ok(()) => Verdict::Valid {
                provider: self.ctx.provider.to_string(),
            },
            Err(reason) => Verdict::Invalid {
                provider: self.ctx.provider.to_string(),
                reason: reason.to_string(),
                header: Some(self.sig_header.to_string()),
                expected: None,
                received: Some(received.to_string()),
                signed: Some(format!(
                    "{} followed by the body, {} bytes",
                    self.ts_header,
                    self.ctx.req.body.bytes.len()
                )),
            },
        }
    }
}

/// Discord: hex Ed25519 signature of `X-Signature-Timestamp || body`.
pub fn discord(ctx: &Ctx<'_>) -> Verdict {
    let check = Check {
        sig_header: "x-signature-ed25519",
        ts_header: "x-signature-timestamp",
        ctx,
    };
    check.run(|sig, message| {
        let key = ctx
            .secret
            .discord_key()
            .ok_or("the configured Discord public key is not 64 hex characters")?;
        let bytes = hex::decode(sig).map_err(|_| "the signature is not hex")?;
        let signature = ed25519_dalek::Signature::from_slice(&bytes)
            .map_err(|_| "the signature is not 64 bytes")?;
        key.verify(message, &signature)
            .map_err(|_| "the Ed25519 signature does not verify with the configured public key")
    })
}

/// SendGrid: base64 DER ECDSA P-256/SHA-256 signature of `timestamp || body`.
pub fn sendgrid(ctx: &Ctx<'_>) -> Verdict {
    use p256::ecdsa::signature::Verifier as _;
    let check = Check {
        sig_header: "x-twilio-email-event-webhook-signature",
        ts_header: "x-twilio-email-event-webhook-timestamp",
        ctx,
    };
    check.run(|sig, message| {
        let key = ctx
            .secret
            .sendgrid_key()
            .ok_or("the configured SendGrid key is not a base64 P-256 public key")?;
        let der = decode_base64(sig).ok_or("the signature is not base64")?;
        let signature = p256::ecdsa::Signature::from_der(&der)
            .map_err(|_| "the signature is not a DER ECDSA signature")?;
        key.verify(message, &signature)
            .map_err(|_| "the ECDSA signature does not verify with the configured public key")
    })
}
