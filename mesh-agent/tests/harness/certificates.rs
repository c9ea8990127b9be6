//! Workload certificates for the tests: a test CA (rcgen, ECDSA P-256) issuing SPIFFE leaves
//! as the mesh CA does (URI SAN only, server and client auth), and a `WorkloadCertificates`
//! source handing them out per identity, as a node's certificate manager does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mesh_agent::identity::{
    CertificateFuture, Identity, WorkloadCertificate, WorkloadCertificates,
};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A self-signed root that signs workload certificates.
pub struct TestCa {
    root: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    pub fn new() -> Arc<Self> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root = params.self_signed(&key).unwrap();
        Arc::new(Self { root, key })
    }

    /// The root, DER.
    pub fn root(&self) -> CertificateDer<'static> {
        self.root.der().clone()
    }

    /// A certificate naming `identity` (its URI SAN), signed by this CA, valid for a day.
    pub fn issue(&self, identity: &Identity) -> WorkloadCertificate {
        self.issue_uri(identity, &identity.to_string())
    }

    /// A certificate held as `identity` but naming `uri` (a forged or wrong identity).
    pub fn issue_uri(&self, identity: &Identity, uri: &str) -> WorkloadCertificate {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap())];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let leaf = params.signed_by(&key, &self.root, &self.key).unwrap();
        let now = SystemTime::now();
        WorkloadCertificate {
            identity: identity.clone(),
            chain: vec![leaf.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            roots: vec![self.root()],
            serial: "01".into(),
            not_before: now,
            not_after: now + Duration::from_secs(86_400),
        }
    }
}

/// A node's certificates: issued by `ca` on first request, or set by the test.
pub struct TestCertificates {
    ca: Arc<TestCa>,
    issued: Mutex<HashMap<Identity, Arc<WorkloadCertificate>>>,
}

impl TestCertificates {
    pub fn new(ca: Arc<TestCa>) -> Arc<Self> {
        Arc::new(Self {
            ca,
            issued: Mutex::default(),
        })
    }

    /// From now on `identity` is given `certificate`.
    pub fn set(&self, identity: &Identity, certificate: WorkloadCertificate) {
        let mut issued = self.issued.lock().unwrap();
        issued.insert(identity.clone(), Arc::new(certificate));
    }
}

impl WorkloadCertificates for TestCertificates {
    fn certificate(&self, identity: &Identity) -> CertificateFuture {
        let mut issued = self.issued.lock().unwrap();
        let certificate = issued
            .entry(identity.clone())
            .or_insert_with(|| Arc::new(self.ca.issue(identity)))
            .clone();
        Box::pin(async move { Ok(certificate) })
    }
}

/// `spiffe://cluster.local/ns/<namespace>/sa/<account>`.
pub fn identity(namespace: &str, account: &str) -> Identity {
    Identity::parse(&format!(
        "spiffe://cluster.local/ns/{namespace}/sa/{account}"
    ))
    .unwrap()
}
