//! The CA's signing key and what it signs: workload certificates from CSRs (the CSR's key, the
//! authorized identity as the only SAN) and the CA's own serving certificate.

use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use rcgen::{
    CertificateParams, CertificateSigningRequestParams, ExtendedKeyUsagePurpose, Ia5String, IsCa,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};

use crate::identity::Identity;

/// The signing certificate and key, and the chain above it.
pub struct Signer {
    /// The signing certificate as rcgen needs it to issue (its name and key).
    issuer: rcgen::Certificate,
    key: KeyPair,
    /// PEM: the signing certificate, its intermediates, the root last (istiod's order).
    chain: Vec<String>,
    /// PEM of the root that verifies every chain.
    root: String,
}

impl Signer {
    /// `ca_cert` signs with `ca_key`; `intermediates` sit between it and `root` (empty when
    /// `ca_cert` is the root).
    pub fn new(ca_cert: &str, ca_key: &str, intermediates: &[String], root: &str) -> Result<Self> {
        let key = KeyPair::from_pem(ca_key).context("the CA key is not a PEM private key")?;
        let params = CertificateParams::from_ca_cert_pem(ca_cert)
            .context("the CA certificate is not a PEM certificate")?;
        let issuer = params
            .self_signed(&key)
            .context("the CA key does not sign")?;
        let mut chain = vec![ca_cert.trim().to_owned()];
        chain.extend(intermediates.iter().map(|c| c.trim().to_owned()));
        if chain.last().map(String::as_str) != Some(root.trim()) {
            chain.push(root.trim().to_owned());
        }
        Ok(Signer {
            issuer,
            key,
            chain,
            root: root.trim().to_owned(),
        })
    }

    /// A new self-signed root: (certificate PEM, key PEM).
    pub fn create_root(trust_domain: &str) -> Result<(String, String)> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, trust_domain);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mesh root CA");
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&key)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// The root certificate (PEM).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Signs `csr_pem` for `identity`, valid for `validity`: the leaf then [`Self::chain`]'s
    /// certificates. The CSR's signature must verify; a URI SAN in it must be `identity`.
    pub fn sign(
        &self,
        csr_pem: &str,
        identity: &Identity,
        validity: Duration,
    ) -> Result<Vec<String>> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| anyhow!("the CSR does not parse or its signature does not verify: {e}"))?;
        let wanted = identity.to_string();
        for san in &csr.params.subject_alt_names {
            if let SanType::URI(uri) = san {
                if uri.as_str() != wanted {
                    bail!(
                        "the CSR names {} but the caller may obtain {wanted}",
                        uri.as_str()
                    );
                }
            }
        }
        let mut params = leaf_params(validity)?;
        params.subject_alt_names = vec![SanType::URI(Ia5String::try_from(wanted)?)];
        let cert = params.signed_by(&csr.public_key, &self.issuer, &self.key)?;
        let mut chain = vec![cert.pem().trim().to_owned()];
        chain.extend(self.chain.iter().cloned());
        Ok(chain)
    }

    /// A serving certificate for the CA itself, named by `dns_names`: (chain PEM, key PEM).
    pub fn serving(&self, dns_names: &[String], validity: Duration) -> Result<(String, String)> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = leaf_params(validity)?;
        params.subject_alt_names = dns_names
            .iter()
            .map(|name| match name.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(Ia5String::try_from(name.as_str())?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        let cert = params.signed_by(&key, &self.issuer, &self.key)?;
        let mut chain = vec![cert.pem().trim().to_owned()];
        chain.extend(self.chain.iter().filter(|c| **c != self.root).cloned());
        Ok((chain.join("\n") + "\n", key.serialize_pem()))
    }
}

/// A leaf's parameters: random serial, valid from a minute ago (clock skew) for `validity`,
/// for TLS both ways, no subject (the identity is the SAN, as Istio does).
fn leaf_params(validity: Duration) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let mut serial = [0u8; 16];
    fastrand::fill(&mut serial);
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(1);
    params.not_after = now + time::Duration::try_from(validity)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}
