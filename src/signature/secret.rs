//! A webhook secret's provider side: its format checked when configured, and the keys
//! the asymmetric schemes decode from it. The type itself is [`crate::secret::Secret`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::pkcs8::DecodePublicKey;

use super::mac::decode_base64;
pub use crate::secret::Secret;

impl Secret {
    /// A webhook secret (or, for Discord and SendGrid, a public key), checked to suit
    /// `provider`; the error is one sentence that
    /// names the fix (the secret itself is never part of it).
    pub fn for_provider(provider: &str, text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(format!(
                "the {provider} secret is empty; pass {provider}=SECRET"
            ));
        }
        match provider {
            "stripe" if !text.starts_with("whsec_") => {
                return Err("a Stripe signing secret starts with whsec_; copy it from the endpoint's page in the Stripe dashboard (or `stripe listen`)".into());
            }
            "standard-webhooks" | "svix" | "clerk" | "resend" if sw_key(text).is_none() => {
                return Err(format!(
                    "a {provider} secret is whsec_ followed by base64; copy the endpoint's signing secret again"
                ));
            }
            "discord" if discord_key(text).is_none() => {
                return Err("a Discord public key is 64 hex characters; copy the application's PUBLIC KEY from the developer portal".into());
            }
            "sendgrid" if sendgrid_key(text).is_none() => {
                return Err("a SendGrid verification key is base64 of a P-256 public key; copy it from Mail Settings > Event Webhook".into());
            }
            _ => {}
        }
        Ok(Secret::verbatim(text))
    }

    /// The Standard Webhooks key: the base64 after `whsec_` (or the whole text), decoded.
    pub fn standard_webhooks_key(&self) -> Option<Vec<u8>> {
        sw_key(self.expose())
    }

    /// The Discord Ed25519 public key.
    pub fn discord_key(&self) -> Option<ed25519_dalek::VerifyingKey> {
        discord_key(self.expose())
    }

    /// The SendGrid ECDSA P-256 public key.
    pub fn sendgrid_key(&self) -> Option<p256::ecdsa::VerifyingKey> {
        sendgrid_key(self.expose())
    }
}

fn sw_key(text: &str) -> Option<Vec<u8>> {
    let encoded = text.strip_prefix("whsec_").unwrap_or(text);
    decode_base64(encoded).filter(|key| !key.is_empty())
}

fn discord_key(text: &str) -> Option<ed25519_dalek::VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(text).ok()?.try_into().ok()?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()
}

fn sendgrid_key(text: &str) -> Option<p256::ecdsa::VerifyingKey> {
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body.trim()).ok()?;
    p256::ecdsa::VerifyingKey::from_public_key_der(&der).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret =
            Secret::for_provider("github", "hunter2").expect("any text is a GitHub secret");
        assert_eq!(format!("{secret:?} {secret}"), "*** ***");
    }

    #[test]
    fn formats_are_checked_per_provider() {
        let err = Secret::for_provider("stripe", "sk_live_123").expect_err("not a signing secret");
        assert!(err.contains("whsec_"), "{err}");
        assert!(
            !err.contains("sk_live_123"),
            "the secret must not be echoed"
        );
        assert!(Secret::for_provider("svix", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(Secret::for_provider("svix", "whsec_***").is_err());
        assert!(Secret::for_provider("discord", "abcd").is_err());
        assert!(Secret::for_provider("sendgrid", "bm90IGEga2V5").is_err());
        assert!(Secret::for_provider("github", "  ").is_err());
    }
}
