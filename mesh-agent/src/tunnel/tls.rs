//! The tunnel's TLS 1.3 (ALPN `h2`): the client presents the source workload's certificate and
//! accepts only a server certificate chaining to the mesh roots that names the destination
//! workload's SPIFFE identity; the server presents the pod's certificate and requires a client
//! certificate chaining to the mesh roots (its trust domain is checked once the handshake is
//! done, [`peer_identity`]).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use super::TunnelError;
use crate::identity::{Identity, WorkloadCertificate};

/// The ALPN protocol of HBONE.
const ALPN_H2: &[u8] = b"h2";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(certificate: &WorkloadCertificate) -> Result<Arc<RootCertStore>, TunnelError> {
    let mut roots = RootCertStore::empty();
    for root in &certificate.roots {
        roots
            .add(root.clone())
            .map_err(|e| TunnelError::Certificate(format!("mesh root: {e}")))?;
    }
    Ok(Arc::new(roots))
}

/// The client side: `certificate` (the source workload's) presented, `expected` the only
/// identity accepted from the server.
pub fn client_config(
    certificate: &WorkloadCertificate,
    expected: Identity,
) -> Result<Arc<ClientConfig>, TunnelError> {
    let provider = provider();
    let verifier = SpiffeServerVerifier {
        roots: roots(certificate)?,
        expected,
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TunnelError::Certificate(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(certificate.chain.clone(), certificate.key.clone_key())
        .map_err(|e| TunnelError::Certificate(format!("{}: {e}", certificate.identity)))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// The server side: `certificate` (the pod's) presented, a client certificate chaining to its
/// roots required.
pub fn server_config(certificate: &WorkloadCertificate) -> Result<Arc<ServerConfig>, TunnelError> {
    let provider = provider();
    let clients =
        WebPkiClientVerifier::builder_with_provider(roots(certificate)?, provider.clone())
            .build()
            .map_err(|e| TunnelError::Certificate(format!("client verifier: {e}")))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TunnelError::Certificate(e.to_string()))?
        .with_client_cert_verifier(clients)
        .with_single_cert(certificate.chain.clone(), certificate.key.clone_key())
        .map_err(|e| TunnelError::Certificate(format!("{}: {e}", certificate.identity)))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// The SPIFFE identity of a peer's leaf certificate (its URI SAN).
pub fn peer_identity(leaf: &CertificateDer<'_>) -> Result<Identity, TunnelError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| TunnelError::Certificate(format!("peer certificate: {e}")))?;
    let names = parsed
        .subject_alternative_name()
        .map_err(|e| TunnelError::Certificate(format!("peer certificate SAN: {e}")))?;
    let uri = names
        .iter()
        .flat_map(|n| &n.value.general_names)
        .find_map(|n| match n {
            x509_parser::extensions::GeneralName::URI(uri) => Some(*uri),
            _ => None,
        });
    let uri =
        uri.ok_or_else(|| TunnelError::Certificate("peer certificate has no URI SAN".into()))?;
    Identity::parse(uri).map_err(TunnelError::Certificate)
}

/// Accepts a server whose chain leads to the mesh roots and whose leaf names `expected`.
#[derive(Debug)]
struct SpiffeServerVerifier {
    roots: Arc<RootCertStore>,
    expected: Identity,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for SpiffeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let parsed = ParsedCertificate::try_from(end_entity)?;
        let algorithms = self.algorithms.all;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            now,
            algorithms,
        )?;
        let identity =
            peer_identity(end_entity).map_err(|e| rustls::Error::General(e.to_string()))?;
        if identity != self.expected {
            let expected = &self.expected;
            return Err(rustls::Error::General(format!(
                "the server is {identity}, not the destination's {expected}"
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(
            "the tunnel speaks TLS 1.3 only".into(),
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
