//! `serve --tls`: HTTPS with a certificate and key in PEM files — in the lab, the certificate
//! the lab's external-host CA issued for the host's name (`LAB_TLS_CERT`, `LAB_TLS_KEY`).

use anyhow::Context;
use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// Where the certificate and key are.
#[derive(clap::Args, Clone, Debug)]
pub struct TlsArgs {
    /// Serve HTTPS (TLS, ALPN h2 and http/1.1) instead of plain HTTP.
    #[arg(long)]
    tls: bool,
    /// The certificate chain (PEM) served with `--tls` (ignored without it).
    #[arg(long, env = "LAB_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, env = "LAB_TLS_KEY")]
    tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The acceptor when `--tls` was asked; an error naming what is missing or unreadable.
    pub fn acceptor(&self) -> anyhow::Result<Option<TlsAcceptor>> {
        if !self.tls {
            return Ok(None);
        }
        let missing = |what: &str, env: &str| {
            anyhow::anyhow!("--tls needs {what} (or {env}): a lab external host gets both")
        };
        let cert = self.tls_cert.as_deref();
        let cert = cert.ok_or_else(|| missing("--tls-cert", "LAB_TLS_CERT"))?;
        let key = self.tls_key.as_deref();
        let key = key.ok_or_else(|| missing("--tls-key", "LAB_TLS_KEY"))?;
        Ok(Some(acceptor(cert, key)?))
    }
}

fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("reading the certificate {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the key {}", key.display()))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and key do not make a TLS server")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
