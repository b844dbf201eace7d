//! [`Secret`]: the one type for every secret hooktap holds (webhook secrets, relay and API
//! tokens, `--verify` values): `Debug` and `Display` print `***`, so none reaches a log,
//! an error or `--help` by accident. Provider-specific checks and key decoding live with
//! the schemes (`signature/secret.rs`).

use std::fmt;
use std::str::FromStr;

/// A secret's text; shown only through [`Secret::expose`] and [`Secret::bytes`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text` as it is (no trimming, no check): for values whose parts are checked
    /// later, such as `--verify PROVIDER=SECRET`, so a parse error can never echo them.
    pub fn verbatim(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The secret as text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret's UTF-8 bytes (the HMAC key for most schemes).
    pub fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A token from the command line or the environment: trimmed, and never empty.
impl FromStr for Secret {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the token is empty".into());
        }
        Ok(Secret(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let secret: Secret = " hunter2 ".parse().expect("a token");
        assert_eq!(
            format!("{secret:?} {secret} {:?}", Some(&secret)),
            "*** *** Some(***)"
        );
        assert_eq!(secret.expose(), "hunter2");
        assert!("  ".parse::<Secret>().is_err());
        assert_eq!(Secret::verbatim(" a=b ").expose(), " a=b ");
    }
}
