//! Who may open tunnels: bearer tokens (from flags or a tokens file), the names each may
//! hold, and anonymous access for random names. Tokens are kept as SHA-256 digests and
//! compared in constant time; they are never logged.

use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A SHA-256 digest of a secret (a token or an anonymous resume key): who owns a name.
pub type Fingerprint = [u8; 32];

/// The digest of `secret`.
pub fn fingerprint(secret: &str) -> Fingerprint {
    Sha256::digest(secret.as_bytes()).into()
}

/// Constant-time equality of two fingerprints.
pub fn same(a: &Fingerprint, b: &Fingerprint) -> bool {
    a.ct_eq(b).into()
}

struct TokenEntry {
    digest: Fingerprint,
    /// `None`: any name not reserved by another token.
    names: Option<Vec<String>>,
}

/// The relay's access rules.
pub struct Auth {
    tokens: Vec<TokenEntry>,
    allow_anonymous: bool,
}

/// Who is asking for a tunnel.
#[derive(Clone, Debug)]
pub enum Identity {
    /// A known token.
    Token {
        /// The token's digest.
        fingerprint: Fingerprint,
        /// The names it may hold; `None` means any free name.
        names: Option<Vec<String>>,
    },
    /// No token, and the relay allows that.
    Anonymous,
}

/// Why a bearer token was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No token, and one is needed.
    Missing,
    /// A token the relay does not know.
    Unknown,
}

impl Auth {
    /// Rules from `--token` values, a `--tokens-file` and `--allow-anonymous`.
    ///
    /// The tokens file has one token per line, optionally followed by the names it may
    /// hold (separated by spaces or commas); `#` starts a comment.
    pub fn new(
        tokens: &[String],
        tokens_file: Option<&Path>,
        allow_anonymous: bool,
    ) -> anyhow::Result<Self> {
        let mut entries: Vec<TokenEntry> = tokens
            .iter()
            .filter(|t| !t.trim().is_empty())
            .map(|t| TokenEntry {
                digest: fingerprint(t.trim()),
                names: None,
            })
            .collect();
        if let Some(path) = tokens_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("could not read --tokens-file {}", path.display()))?;
            entries.extend(parse_tokens_file(&text).map_err(|line| {
                anyhow::anyhow!(
                    "--tokens-file {} line {line}: names may only hold a-z, 0-9 and '-'",
                    path.display()
                )
            })?);
        }
        Ok(Self {
            tokens: entries,
            allow_anonymous,
        })
    }

    /// True when nobody could ever open a tunnel.
    pub fn is_closed(&self) -> bool {
        self.tokens.is_empty() && !self.allow_anonymous
    }

    /// Identifies the holder of `bearer` (the `Authorization` header's token).
    pub fn identify(&self, bearer: Option<&str>) -> Result<Identity, AuthFailure> {
        let Some(token) = bearer.filter(|t| !t.is_empty()) else {
            return if self.allow_anonymous {
                Ok(Identity::Anonymous)
            } else {
                Err(AuthFailure::Missing)
            };
        };
        let digest = fingerprint(token);
        // Look at every entry so the time taken does not depend on which one matched.
        let mut found = None;
        for entry in &self.tokens {
            if same(&entry.digest, &digest) && found.is_none() {
                found = Some(entry);
            }
        }
        found
            .map(|entry| Identity::Token {
                fingerprint: entry.digest,
                names: entry.names.clone(),
            })
            .ok_or(AuthFailure::Unknown)
    }

    /// True when a token other than `owner` has `name` listed in the tokens file.
    pub fn reserved_by_other(&self, name: &str, owner: &Fingerprint) -> bool {
        self.tokens.iter().any(|entry| {
            !same(&entry.digest, owner)
                && entry
                    .names
                    .as_ref()
                    .is_some_and(|names| names.iter().any(|n| n == name))
        })
    }

    /// Every name reserved in the tokens file.
    pub fn reserved_names(&self) -> impl Iterator<Item = &str> {
        self.tokens
            .iter()
            .filter_map(|e| e.names.as_ref())
            .flatten()
            .map(String::as_str)
    }
}

/// The `Authorization: Bearer` token of a request, if any.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn parse_tokens_file(text: &str) -> Result<Vec<TokenEntry>, usize> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty());
        let Some(token) = words.next() else { continue };
        let names: Vec<String> = words.map(str::to_string).collect();
        if !names.iter().all(|n| crate::tunnel::protocol::valid_name(n)) {
            return Err(index + 1);
        }
        entries.push(TokenEntry {
            digest: fingerprint(token),
            names: (!names.is_empty()).then_some(names),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# team\nalpha app-a, app-b\nbeta\n\n").unwrap();
        let auth = Auth::new(&["gamma".into()], Some(&file), false).unwrap();
        match auth.identify(Some("alpha")).unwrap() {
            Identity::Token { names, .. } => {
                assert_eq!(names.unwrap(), ["app-a", "app-b"]);
            }
            Identity::Anonymous => panic!("alpha is a token"),
        }
        assert!(matches!(
            auth.identify(Some("gamma")),
            Ok(Identity::Token { names: None, .. })
        ));
        assert_eq!(
            auth.identify(Some("nope")).unwrap_err(),
            AuthFailure::Unknown
        );
        assert_eq!(auth.identify(None).unwrap_err(), AuthFailure::Missing);
        assert!(auth.reserved_by_other("app-a", &fingerprint("beta")));
        assert!(!auth.reserved_by_other("app-a", &fingerprint("alpha")));
        let anon = Auth::new(&[], None, true).unwrap();
        assert!(matches!(anon.identify(None), Ok(Identity::Anonymous)));
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "Bearer s3cret".parse().unwrap());
        assert_eq!(bearer(&headers), Some("s3cret"));
        headers.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
