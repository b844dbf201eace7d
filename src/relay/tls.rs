//! HTTPS and WSS for the relay: a rustls server config from PEM files.

use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A rustls server config (ring provider) serving the chain in `cert` with the key in
/// `key`; it offers only HTTP/1.1 so WebSocket upgrades work.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<_, _>>())
        .map_err(|err| anyhow!("could not read --tls-cert {}: {err}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("--tls-cert {} holds no PEM certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|err| {
        anyhow!(
            "could not read a private key from --tls-key {}: {err}",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|err| anyhow!("--tls-cert and --tls-key do not make a usable pair: {err}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
