//! TLS origination, DestinationRule `trafficPolicy.tls` (top level, per port, per subset, merged
//! in `snapshot/policy.rs`): the app calls `http://host` and the agent speaks TLS to the
//! endpoint, as in Istio's egress TLS origination task. `SIMPLE` verifies the server; `MUTUAL`
//! also presents a client certificate. Trust: `caCertificates` (a PEM file under `--tls-file-dir`), else
//! the `ca.crt` of the `credentialName` Secret, else the node's system roots;
//! `insecureSkipVerify: true` checks nothing. The name checked is `sni` (else the destination
//! host), or any of `subjectAltNames` when set. `credentialName` is read in the
//! DestinationRule's namespace (`tls.crt`/`tls.key`/`ca.crt`, or Istio's `cert`/`key`/`cacert`);
//! `DISABLE` and `ISTIO_MUTUAL` (the mesh's own tunnel between agents) originate nothing here.

use std::sync::Arc;

use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use super::verify::{AnyServer, OneOfNames};
use crate::beneath::read_beneath;
use crate::resources::{ClientTls, ClientTlsMode};
use crate::snapshot::{Cluster, Snapshot};
use crate::validate::tls_files::tls_file;

/// Why a destination's TLS settings cannot be used; its requests fail `UF` meanwhile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OriginationError {
    #[error("Secret {0} not found")]
    MissingSecret(String),
    #[error("Secret {secret} has none of {keys:?}")]
    MissingKey {
        secret: String,
        keys: &'static [&'static str],
    },
    #[error("{what}: {reason}")]
    Unusable { what: String, reason: String },
    #[error("MUTUAL needs a client certificate and key (credentialName or the files)")]
    NoClientCertificate,
}

/// What an origination is built from: equal material, same connections.
#[derive(Clone, Debug, PartialEq)]
struct Material {
    tls: ClientTls,
    sni: String,
    /// Trust anchors (PEM); `None`: the system's.
    ca: Option<Vec<u8>>,
    /// Client certificate chain and key (PEM), for MUTUAL.
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// How the pool speaks TLS to one destination's endpoints.
#[derive(Debug)]
pub struct Origination {
    material: Result<Material, OriginationError>,
    configs: Result<Configs, OriginationError>,
}

#[derive(Debug)]
struct Configs {
    server_name: ServerName<'static>,
    http1: Arc<ClientConfig>,
    http2: Arc<ClientConfig>,
}

impl Origination {
    /// The origination `cluster`'s policy asks for under `snapshot`; `None`: plain text.
    pub fn of(cluster: &Cluster, snapshot: &Snapshot) -> Option<Self> {
        let material = material(cluster, snapshot)?;
        let configs = material.clone().and_then(|m| configs(&m));
        Some(Self { material, configs })
    }

    /// Whether `other` was built from the same settings and certificates.
    pub fn same(&self, other: &Self) -> bool {
        self.material == other.material
    }

    /// The server name and the client settings for HTTP/1.1 or HTTP/2 (ALPN).
    pub fn client(
        &self,
        http2: bool,
    ) -> Result<(ServerName<'static>, Arc<ClientConfig>), OriginationError> {
        let configs = self.configs.as_ref().map_err(Clone::clone)?;
        let config = if http2 {
            &configs.http2
        } else {
            &configs.http1
        };
        Ok((configs.server_name.clone(), config.clone()))
    }

    /// Why it cannot be used, if it cannot.
    pub fn problem(&self) -> Option<&OriginationError> {
        self.configs.as_ref().err()
    }
}

fn material(cluster: &Cluster, snapshot: &Snapshot) -> Option<Result<Material, OriginationError>> {
    let tls = cluster.policy.tls.as_ref()?;
    let mutual = match tls.mode? {
        ClientTlsMode::Simple => false,
        ClientTlsMode::Mutual => true,
        ClientTlsMode::Disable | ClientTlsMode::IstioMutual => return None,
    };
    let namespace = cluster.rule_namespace.as_deref().unwrap_or_default();
    let secret = |name: &str| Credential::read(snapshot, namespace, name);
    let credential = set(&tls.credential_name).map(secret).transpose();
    Some(credential.and_then(|credential| {
        let sni = set(&tls.sni).unwrap_or(&cluster.hostname).to_string();
        let insecure = tls.insecure_skip_verify == Some(true);
        let ca = match (set(&tls.ca_certificates), &credential) {
            _ if insecure => None,
            (Some(path), _) => Some(file(snapshot, path)?),
            (None, Some(credential)) => credential.ca.clone(),
            (None, None) => None,
        };
        let identity = match (&credential, mutual) {
            (_, false) => None,
            (Some(credential), true) => Some(credential.identity()?),
            (None, true) => Some(files_identity(snapshot, tls)?),
        };
        Ok(Material {
            tls: tls.clone(),
            sni,
            ca,
            identity,
        })
    }))
}

fn set(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|v| !v.is_empty())
}

/// The file at `path`, read only beneath the snapshot's certificate directory (the resource was
/// checked against it; a symlink out of it is refused here).
fn file(snapshot: &Snapshot, path: &str) -> Result<Vec<u8>, OriginationError> {
    let unusable = |reason: String| OriginationError::Unusable {
        what: path.to_string(),
        reason,
    };
    let dir = &snapshot.tls_file_dir;
    let relative = tls_file(path, dir).map_err(unusable)?;
    read_beneath(dir, &relative).map_err(|e| unusable(e.to_string()))
}

fn files_identity(
    snapshot: &Snapshot,
    tls: &ClientTls,
) -> Result<(Vec<u8>, Vec<u8>), OriginationError> {
    match (set(&tls.client_certificate), set(&tls.private_key)) {
        (Some(cert), Some(key)) => Ok((file(snapshot, cert)?, file(snapshot, key)?)),
        _ => Err(OriginationError::NoClientCertificate),
    }
}

/// The PEM entries of a `credentialName` Secret.
struct Credential {
    name: String,
    cert: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
    ca: Option<Vec<u8>>,
}

const CERT_KEYS: &[&str] = &["tls.crt", "cert"];
const KEY_KEYS: &[&str] = &["tls.key", "key"];
const CA_KEYS: &[&str] = &["ca.crt", "cacert"];

impl Credential {
    fn read(snapshot: &Snapshot, namespace: &str, name: &str) -> Result<Self, OriginationError> {
        let full = format!("{namespace}/{name}");
        let secret = snapshot
            .secret(namespace, name)
            .ok_or_else(|| OriginationError::MissingSecret(full.clone()))?;
        let entry = |keys: &[&str]| {
            keys.iter().find_map(|key| {
                let data = secret.data.as_ref().and_then(|d| d.get(*key));
                let text = secret.string_data.as_ref().and_then(|d| d.get(*key));
                data.map(|b| b.0.clone())
                    .or_else(|| text.map(|s| s.clone().into_bytes()))
            })
        };
        Ok(Self {
            cert: entry(CERT_KEYS),
            key: entry(KEY_KEYS),
            ca: entry(CA_KEYS),
            name: full,
        })
    }

    fn identity(&self) -> Result<(Vec<u8>, Vec<u8>), OriginationError> {
        let missing = |keys| OriginationError::MissingKey {
            secret: self.name.clone(),
            keys,
        };
        let cert = self.cert.clone().ok_or_else(|| missing(CERT_KEYS))?;
        let key = self.key.clone().ok_or_else(|| missing(KEY_KEYS))?;
        Ok((cert, key))
    }
}

fn unusable(what: &str, reason: impl ToString) -> OriginationError {
    OriginationError::Unusable {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

/// The rustls client settings `material` describes.
fn configs(material: &Material) -> Result<Configs, OriginationError> {
    let provider = Arc::new(ring::default_provider());
    let server_name = ServerName::try_from(material.sni.clone()).map_err(|e| unusable("sni", e))?;
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| unusable("TLS versions", e))?;
    let builder = match material.tls.insecure_skip_verify == Some(true) {
        true => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer::new(provider))),
        false => {
            let roots = Arc::new(roots(material.ca.as_deref())?);
            let verifier = OneOfNames::new(roots, &material.tls.subject_alt_names, provider)
                .map_err(|e| unusable("subjectAltNames", e))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        }
    };
    let config = match &material.identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<_, _>>()
                .map_err(|e| unusable("client certificate", e))?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| unusable("private key", e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| unusable("client certificate", e))?
        }
    };
    let with_alpn = |protocol: &[u8]| {
        let mut config = config.clone();
        config.alpn_protocols = vec![protocol.to_vec()];
        Arc::new(config)
    };
    Ok(Configs {
        server_name,
        http1: with_alpn(b"http/1.1"),
        http2: with_alpn(b"h2"),
    })
}

/// The trust anchors: `ca` (PEM), else the system's.
fn roots(ca: Option<&[u8]>) -> Result<RootCertStore, OriginationError> {
    let mut roots = RootCertStore::empty();
    let certificates: Vec<CertificateDer<'static>> = match ca {
        Some(pem) => CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| unusable("caCertificates", e))?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (added, _) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(unusable("caCertificates", "no usable CA certificate"));
    }
    Ok(roots)
}

#[cfg(test)]
#[path = "origination_tests.rs"]
mod tests;
