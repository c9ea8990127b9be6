//! Who signs: [`CaIssuer`] makes a P-256 key in memory, sends its CSR to Istio's certificate
//! API impersonating the pod's identity (as ztunnel does) with the agent's ServiceAccount token,
//! and checks the chain it gets back names that identity and that key.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use rcgen::{CertificateParams, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};

use crate::ca::client::{create_certificate, CaEndpoint};
use crate::ca::proto::IstioCertificateRequest;
use crate::identity::{CertificateError, Identity, WorkloadCertificate};

/// Signs a new certificate for an identity (the store's only way to the CA; tests fake it).
pub trait CertificateIssuer: Send + Sync + 'static {
    /// A fresh key and its signed chain for `identity`.
    fn issue(
        &self,
        identity: &Identity,
    ) -> BoxFuture<'static, Result<WorkloadCertificate, CertificateError>>;
}

/// Istio's certificate API at `address` (its certificate naming `server_name`, chaining to the
/// root in `root_file`), asked with the token in `token_file`, for certificates of `validity`.
/// Both files are read at each request: projected tokens and the published root change, and
/// may appear only after the agent started.
#[derive(Clone, Debug)]
pub struct CaIssuer {
    pub address: String,
    pub server_name: String,
    pub root_file: PathBuf,
    pub token_file: PathBuf,
    pub validity: Duration,
}

impl CertificateIssuer for CaIssuer {
    fn issue(
        &self,
        identity: &Identity,
    ) -> BoxFuture<'static, Result<WorkloadCertificate, CertificateError>> {
        let (issuer, identity) = (self.clone(), identity.clone());
        Box::pin(async move { issuer.request(identity).await })
    }
}

impl CaIssuer {
    async fn request(self, identity: Identity) -> Result<WorkloadCertificate, CertificateError> {
        let unavailable = |reason: String| CertificateError::Unavailable {
            identity: identity.to_string(),
            reason,
        };
        let (key, csr) = key_and_csr(&identity).map_err(unavailable)?;
        let read = |what: &'static str, path: PathBuf| async move {
            tokio::fs::read_to_string(&path)
                .await
                .map_err(|e| format!("{what} {} cannot be read: {e}", path.display()))
        };
        let token = read("the agent's token", self.token_file.clone())
            .await
            .map_err(unavailable)?;
        let ca = CaEndpoint {
            address: self.address.clone(),
            server_name: self.server_name.clone(),
            root: read("the CA's root", self.root_file.clone())
                .await
                .map_err(unavailable)?,
        };
        let mut request = IstioCertificateRequest {
            csr,
            validity_duration: i64::try_from(self.validity.as_secs()).unwrap_or(i64::MAX),
            metadata: None,
        };
        request.impersonate(&identity.to_string());
        let answer = create_certificate(&ca, token.trim(), request)
            .await
            .map_err(|status| refusal(&identity, &ca.address, &status))?;
        certificate(identity, &answer.cert_chain, &key)
    }
}

/// A new P-256 key and a CSR (PEM) naming `identity` as its URI SAN.
fn key_and_csr(identity: &Identity) -> Result<(KeyPair, String), String> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("generating a key: {e}"))?;
    let mut params = CertificateParams::default();
    let uri = identity
        .to_string()
        .try_into()
        .map_err(|e| format!("identity {identity} as a URI SAN: {e}"))?;
    params.subject_alt_names = vec![SanType::URI(uri)];
    let csr = params
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(|e| format!("writing the CSR: {e}"))?;
    Ok((key, csr))
}

/// The CA's gRPC status as a certificate error: worth retrying soon or not.
fn refusal(identity: &Identity, address: &str, status: &tonic::Status) -> CertificateError {
    let reason = format!("{address}: {:?}: {}", status.code(), status.message());
    let identity = identity.to_string();
    match status.code() {
        tonic::Code::Unauthenticated
        | tonic::Code::PermissionDenied
        | tonic::Code::InvalidArgument
        | tonic::Code::Unimplemented => CertificateError::Refused { identity, reason },
        _ => CertificateError::Unavailable { identity, reason },
    }
}

/// The workload certificate from the CA's answer (leaf, intermediates, root last; a string may
/// hold several PEM blocks), checked to name `identity` and carry `key`'s public key.
pub fn certificate(
    identity: Identity,
    answer: &[String],
    key: &KeyPair,
) -> Result<WorkloadCertificate, CertificateError> {
    let refused = |reason: String| CertificateError::Refused {
        identity: identity.to_string(),
        reason,
    };
    let mut ders = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(answer.join("\n").as_bytes()) {
        let pem = pem.map_err(|e| refused(format!("the CA's answer is not PEM: {e}")))?;
        ders.push(CertificateDer::from(pem.contents));
    }
    let Some(leaf_der) = ders.first() else {
        return Err(refused("the CA answered no certificate".into()));
    };
    let (_, leaf) = X509Certificate::from_der(leaf_der)
        .map_err(|e| refused(format!("the CA's leaf certificate does not parse: {e}")))?;
    check_leaf(&leaf, &identity, key).map_err(refused)?;
    let serial = hex(leaf.raw_serial());
    let not_before = epoch(leaf.validity().not_before.timestamp());
    let not_after = epoch(leaf.validity().not_after.timestamp());
    let roots = if ders.len() > 1 {
        ders.split_off(ders.len() - 1)
    } else {
        Vec::new()
    };
    Ok(WorkloadCertificate {
        identity,
        chain: ders,
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        roots,
        serial,
        not_before,
        not_after,
    })
}

/// The leaf must carry our key and name exactly `identity`.
fn check_leaf(leaf: &X509Certificate, identity: &Identity, key: &KeyPair) -> Result<(), String> {
    if leaf.public_key().raw != key.public_key_der().as_slice() {
        return Err("the CA's leaf certificate is not for the key the agent sent".into());
    }
    let wanted = identity.to_string();
    let names = leaf
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| san.value.general_names.clone())
        .unwrap_or_default();
    let uris: Vec<&str> = names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some(*uri),
            _ => None,
        })
        .collect();
    if uris != [wanted.as_str()] {
        return Err(format!("the CA's leaf names {uris:?}, not {wanted}"));
    }
    Ok(())
}

fn epoch(seconds: i64) -> SystemTime {
    match u64::try_from(seconds) {
        Ok(secs) => SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        Err(_) => SystemTime::UNIX_EPOCH,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
