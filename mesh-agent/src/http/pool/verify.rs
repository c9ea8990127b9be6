//! How an originated TLS connection checks its server: the chain against the trust anchors and
//! the name against the SNI, or against any one of DestinationRule `subjectAltNames`
//! ([`OneOfNames`]); with `insecureSkipVerify`, nothing but the handshake's own signatures
//! ([`AnyServer`]).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// The chain checked against the roots; the name against the SNI, or one of `names`.
#[derive(Debug)]
pub struct OneOfNames {
    chain: Arc<WebPkiServerVerifier>,
    names: Vec<ServerName<'static>>,
}

impl OneOfNames {
    /// Checks against `roots`; `subject_alt_names` (DNS names, IP addresses) replace the SNI
    /// as the names accepted when there are any.
    pub fn new(
        roots: Arc<RootCertStore>,
        subject_alt_names: &[String],
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, String> {
        let chain = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| e.to_string())?;
        let names = subject_alt_names
            .iter()
            .map(|name| {
                ServerName::try_from(name.clone())
                    .map_err(|_| format!("{name:?} is neither a DNS name nor an IP address"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { chain, names })
    }
}

impl ServerCertVerifier for OneOfNames {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if self.names.is_empty() {
            let verifier = &self.chain;
            return verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        }
        let mut last = Error::General("no subjectAltNames".into());
        for name in &self.names {
            match self
                .chain
                .verify_server_cert(end_entity, intermediates, name, ocsp, now)
            {
                Ok(verified) => return Ok(verified),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

/// `insecureSkipVerify: true`: any certificate, any name.
#[derive(Debug)]
pub struct AnyServer(Arc<CryptoProvider>);

impl AnyServer {
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self(provider)
    }
}

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
