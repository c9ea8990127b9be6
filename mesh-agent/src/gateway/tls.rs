//! TLS termination for HTTPS servers (`tls.mode: SIMPLE`): each server's certificate and key
//! come from the Kubernetes Secret its `credentialName` names (`tls.crt`, `tls.key`), read in
//! the gateway WORKLOAD's namespace — the mesh's root namespace, where [`gateway_workload`]
//! runs — as Istio reads them (its Secure Gateways task keeps the Secret in `istio-system`
//! while the Gateway may live elsewhere); the client's SNI picks the server's certificate when
//! a port has several; ALPN offers h2 and http/1.1.
//!
//! [`gateway_workload`]: super::gateway_workload

use std::sync::Arc;

use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use super::hosts::{best_match, normalized, HostPattern};
use super::selection::BoundServer;
use crate::snapshot::Snapshot;

/// Why a server's certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// No Secret by that name in the gateway workload's namespace.
    #[error("Secret {0} not found")]
    MissingSecret(String),
    /// The Secret lacks `tls.crt` or `tls.key`.
    #[error("Secret {secret} has no {key}")]
    MissingKey { secret: String, key: &'static str },
    /// `tls.crt` or `tls.key` is not usable PEM.
    #[error("Secret {secret}: {key}: {reason}")]
    BadPem {
        secret: String,
        key: &'static str,
        reason: String,
    },
}

/// Picks the certificate of the server whose hosts match the SNI most specifically; the first
/// server's when the client sends no SNI or none matches.
#[derive(Debug)]
pub struct ServerCertificates {
    by_hosts: Vec<(Vec<HostPattern>, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for ServerCertificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let first = self.by_hosts.first().map(|(_, key)| key.clone());
        let Some(sni) = hello.server_name() else {
            return first;
        };
        let items = self.by_hosts.iter().map(|(h, k)| (h.as_slice(), k));
        best_match(items, &normalized(sni)).cloned().or(first)
    }
}

/// The acceptor for an HTTPS port: every server whose credential loads; the others are named
/// in the returned problems. `None` when no server has a usable certificate.
pub fn acceptor(
    servers: &[BoundServer],
    snapshot: &Snapshot,
) -> (Option<TlsAcceptor>, Vec<CredentialError>) {
    let mut problems = Vec::new();
    let mut by_hosts = Vec::new();
    for server in servers {
        match certified_key(server, snapshot) {
            Ok(key) => by_hosts.push((server.hosts.clone(), Arc::new(key))),
            Err(problem) => problems.push(problem),
        }
    }
    if by_hosts.is_empty() {
        return (None, problems);
    }
    let resolver = Arc::new(ServerCertificates { by_hosts });
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    let mut config = config;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (Some(TlsAcceptor::from(Arc::new(config))), problems)
}

/// The certificate chain and key of `server`'s `credentialName`.
fn certified_key(
    server: &BoundServer,
    snapshot: &Snapshot,
) -> Result<CertifiedKey, CredentialError> {
    let name = server.credential_name.as_deref().unwrap_or_default();
    let namespace = &snapshot.mesh.root_namespace;
    let secret_name = format!("{namespace}/{name}");
    let secret = snapshot
        .secret(namespace, name)
        .ok_or_else(|| CredentialError::MissingSecret(secret_name.clone()))?;
    let field = |key: &'static str| -> Result<Vec<u8>, CredentialError> {
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone());
        let text = || {
            secret
                .string_data
                .as_ref()?
                .get(key)
                .map(|s| s.clone().into_bytes())
        };
        data.or_else(text).ok_or(CredentialError::MissingKey {
            secret: secret_name.clone(),
            key,
        })
    };
    let bad = |key: &'static str, reason: String| CredentialError::BadPem {
        secret: secret_name.clone(),
        key,
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&field("tls.crt")?)
        .collect::<Result<_, _>>()
        .map_err(|e| bad("tls.crt", e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("tls.crt", "no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&field("tls.key")?)
        .map_err(|e| bad("tls.key", e.to_string()))?;
    let signing =
        ring::sign::any_supported_type(&key).map_err(|e| bad("tls.key", e.to_string()))?;
    Ok(CertifiedKey::new(chain, signing))
}
