//! `--verify`, `--config` and `--provider`: the secrets that `listen`, `verify`, `replay`,
//! `export` and `ui` check or re-sign with, turned into a [`Verifier`] by `config`.

use std::path::PathBuf;

use clap::Args;

use crate::config::{self, SecretSources};
use crate::secret::Secret;
use crate::signature::Verifier;

/// Webhook secrets for signature checks, shared by `listen`, `verify` and `replay`.
#[derive(Debug, Args, Clone, Default)]
pub struct SecretArgs {
    /// Check signatures from PROVIDER with SECRET (repeatable): stripe=whsec_…, github=…,
    /// standard-webhooks=whsec_…; for discord and sendgrid the public key. Secrets can
    /// also come from hooktap.toml, by environment variable.
    #[arg(long = "verify", value_name = "PROVIDER=SECRET", value_parser = verbatim)]
    pub verify: Vec<Secret>,

    /// Config file with secrets and generic schemes [default: ./hooktap.toml if present].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Check every request as this provider instead of detecting it from the headers.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
}

/// Never fails: the value is checked when the verifier is built, so that an error
/// message from clap can never echo a secret.
fn verbatim(text: &str) -> Result<Secret, String> {
    Ok(Secret::verbatim(text))
}

impl SecretArgs {
    /// The verifier these flags and the config file describe (flags win over the file).
    pub fn verifier(&self) -> anyhow::Result<Verifier> {
        config::verifier(SecretSources {
            flags: &self.verify,
            config: self.config.as_deref(),
            provider: self.provider.as_deref(),
        })
    }
}
