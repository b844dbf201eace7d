//! `hooktap.toml`: webhook secrets (literal or from an environment variable), generic HMAC
//! schemes and a pinned provider; merged with `--verify` flags into a [`Verifier`].
//!
//! ```toml
//! pin = "svix"                                  # optional: skip detection
//! [secrets]
//! stripe = { env = "STRIPE_WEBHOOK_SECRET" }    # read from the environment
//! github = "It's a Secret to Everybody"         # or written here
//! [[generic]]
//! name = "acme"
//! header = "X-Acme-Signature"
//! algorithm = "sha256"                          # sha1, sha256, sha512
//! encoding = "hex"                              # hex, base64
//! prefix = "sha256="
//! template = "{timestamp}.{body}"               # {body} {timestamp} {id} {url} {method}
//! timestamp_header = "X-Acme-Timestamp"
//! tolerance_secs = 300
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use crate::secret::Secret as Text;
use crate::signature::mac::{Algorithm, Encoding, TimeFormat};
use crate::signature::template::{Part, Stamp, StampSource, TemplateScheme, parse_template};
use crate::signature::{PROVIDERS, Secret, Verifier};
use crate::usage::UsageError;

/// The config file name looked for in the working directory.
pub const FILE_NAME: &str = "hooktap.toml";

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Provider (or generic scheme) name to secret.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSource>,
    /// Generic HMAC schemes.
    #[serde(default)]
    pub generic: Vec<GenericScheme>,
    /// Check every request as this provider instead of detecting it.
    pub pin: Option<String>,
}

/// Where a secret comes from.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    /// Written in the file.
    Literal(String),
    /// Read from an environment variable.
    Env(EnvRef),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Literal(_) => f.write_str("***"),
            SecretSource::Env(e) => write!(f, "env {}", e.env),
        }
    }
}

/// `{ env = "NAME" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvRef {
    /// The variable's name.
    pub env: String,
}

/// A generic HMAC scheme.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericScheme {
    /// The name secrets and `--provider` use.
    pub name: String,
    /// The signature header.
    pub header: String,
    /// sha1, sha256 (default) or sha512.
    #[serde(default = "default_algorithm")]
    pub algorithm: Algorithm,
    /// hex (default) or base64.
    #[serde(default = "default_encoding")]
    pub encoding: Encoding,
    /// Text before the MAC in the header, e.g. `sha256=`.
    #[serde(default)]
    pub prefix: String,
    /// What is signed; default `{body}`.
    #[serde(default = "default_template")]
    pub template: String,
    /// The header with the signed timestamp, for `{timestamp}`.
    pub timestamp_header: Option<String>,
    /// seconds (default), millis or rfc3339.
    pub timestamp_format: Option<TimeFormat>,
    /// How far (either way) the timestamp may be from the time of checking.
    pub tolerance_secs: Option<i64>,
    /// The header with the message id, for `{id}`.
    pub id_header: Option<String>,
}

fn default_algorithm() -> Algorithm {
    Algorithm::Sha256
}
fn default_encoding() -> Encoding {
    Encoding::Hex
}
fn default_template() -> String {
    "{body}".into()
}

impl GenericScheme {
    /// The scheme, or a one-sentence error naming the fix.
    pub fn scheme(&self) -> Result<TemplateScheme, String> {
        let name = &self.name;
        if PROVIDERS.contains(&name.as_str()) {
            return Err(format!(
                "generic scheme '{name}' has a built-in provider's name; rename it"
            ));
        }
        let template =
            parse_template(&self.template).map_err(|e| format!("generic scheme '{name}': {e}"))?;
        let stamp = match (&self.timestamp_header, template.contains(&Part::Timestamp)) {
            (Some(header), _) => Some(Stamp {
                source: StampSource::Header(header.to_ascii_lowercase()),
                format: self.timestamp_format.unwrap_or(TimeFormat::Seconds),
                tolerance_secs: self.tolerance_secs,
                both_ways: true,
            }),
            (None, true) => {
                return Err(format!(
                    "generic scheme '{name}' signs {{timestamp}}; set timestamp_header"
                ));
            }
            (None, false) => None,
        };
        if template.contains(&Part::Id) && self.id_header.is_none() {
            return Err(format!(
                "generic scheme '{name}' signs {{id}}; set id_header"
            ));
        }
        Ok(TemplateScheme {
            headers: vec![self.header.to_ascii_lowercase()],
            prefix: self.prefix.clone(),
            algorithm: self.algorithm,
            encoding: self.encoding,
            template,
            stamp,
            id_header: self.id_header.as_ref().map(|h| h.to_ascii_lowercase()),
        })
    }
}

/// Reads `path`.
pub fn load(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        UsageError(format!(
            "{} is not a valid hooktap config: {}",
            path.display(),
            e.message()
        ))
        .into()
    })
}

/// The config to use: `--config PATH` (which must exist), else `./hooktap.toml` if present.
fn find(explicit: Option<&Path>) -> anyhow::Result<Config> {
    match explicit {
        Some(path) if !path.exists() => Err(UsageError(format!(
            "the config file {} does not exist; check the --config path",
            path.display()
        ))
        .into()),
        Some(path) => load(path),
        None if Path::new(FILE_NAME).is_file() => load(Path::new(FILE_NAME)),
        None => Ok(Config::default()),
    }
}

/// Where secrets come from: `--verify PROVIDER=SECRET` values, the config file
/// (`--config`, or `./hooktap.toml`), and a pinned provider (`--provider`).
#[derive(Clone, Copy, Debug, Default)]
pub struct SecretSources<'a> {
    /// `PROVIDER=SECRET` texts, unchecked.
    pub flags: &'a [Text],
    /// An explicit config file.
    pub config: Option<&'a Path>,
    /// Check every request as this provider.
    pub provider: Option<&'a str>,
}

/// The verifier `sources` describe (flags win over the file).
pub fn verifier(sources: SecretSources<'_>) -> anyhow::Result<Verifier> {
    {
        let config = find(sources.config)?;
        let generic = config
            .generic
            .iter()
            .map(|g| g.scheme().map(|s| (g.name.clone(), s)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(UsageError)?;
        let known =
            |name: &str| PROVIDERS.contains(&name) || generic.iter().any(|(n, _)| n == name);
        let unknown = |name: &str, place: &str| {
            UsageError(format!(
                "unknown provider '{name}' in {place}; use one of {} or a [[generic]] name from hooktap.toml",
                PROVIDERS.join(", ")
            ))
        };
        let mut secrets = BTreeMap::new();
        for (name, source) in &config.secrets {
            if !known(name) {
                return Err(unknown(name, "hooktap.toml [secrets]").into());
            }
            let text = match source {
                SecretSource::Literal(text) => text.clone(),
                SecretSource::Env(EnvRef { env }) => std::env::var(env).map_err(|_| {
                    UsageError(format!(
                        "the environment variable {env} (the {name} secret in hooktap.toml) is not set; export it or remove the entry"
                    ))
                })?,
            };
            secrets.insert(
                name.clone(),
                Secret::for_provider(name, &text).map_err(UsageError)?,
            );
        }
        for flag in sources.flags {
            let Some((name, text)) = flag.expose().split_once('=') else {
                return Err(UsageError(
                    "--verify takes PROVIDER=SECRET, e.g. --verify stripe=whsec_...".into(),
                )
                .into());
            };
            let name = name.trim().to_ascii_lowercase();
            if !known(&name) {
                return Err(unknown(&name, "--verify").into());
            }
            secrets.insert(
                name.clone(),
                Secret::for_provider(&name, text).map_err(UsageError)?,
            );
        }
        let pin = sources
            .provider
            .map(str::to_string)
            .or(config.pin)
            .map(|p| p.to_ascii_lowercase());
        if let Some(pin) = &pin
            && !known(pin)
        {
            return Err(unknown(pin, "--provider").into());
        }
        Ok(Verifier::new(secrets, generic, pin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_config_parses() {
        let config: Config = toml::from_str(
            r#"
            pin = "acme"
            [secrets]
            stripe = { env = "HOOKTAP_TEST_UNSET_VAR" }
            github = "literal"
            [[generic]]
            name = "acme"
            header = "X-Acme-Signature"
            encoding = "base64"
            template = "{timestamp}.{body}"
            timestamp_header = "X-Acme-Timestamp"
            tolerance_secs = 300
            "#,
        )
        .expect("valid config");
        assert_eq!(config.generic.len(), 1);
        assert!(config.generic[0].scheme().is_ok());
        assert_eq!(format!("{:?}", config.secrets["github"]), "***");
    }

    #[test]
    fn mistakes_are_refused() {
        assert!(toml::from_str::<Config>("[secrets]\nstripe = { environment = \"X\" }").is_err());
        assert!(toml::from_str::<Config>("colour = 1").is_err());
        let generic: Config = toml::from_str(
            "[[generic]]\nname = \"x\"\nheader = \"X-Sig\"\ntemplate = \"{timestamp}{body}\"",
        )
        .expect("parses");
        let err = generic.generic[0]
            .scheme()
            .expect_err("no timestamp header");
        assert!(err.contains("timestamp_header"), "{err}");
    }
}
