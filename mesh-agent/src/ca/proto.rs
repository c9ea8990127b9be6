//! Istio's certificate API (`istio.v1.auth`, security/proto/pb/ca.proto), written by hand for
//! prost: the same field numbers istiod serves, so Istio's clients and ours are interchangeable.

/// The gRPC method's path: service `istio.v1.auth.IstioCertificateService`, `CreateCertificate`.
pub const CREATE_CERTIFICATE: &str = "/istio.v1.auth.IstioCertificateService/CreateCertificate";

/// The service's full name (for the server's routing).
pub const SERVICE: &str = "istio.v1.auth.IstioCertificateService";

/// Istio's metadata key naming the identity a node agent asks for on behalf of a pod.
pub const IMPERSONATED_IDENTITY: &str = "ImpersonatedIdentity";

/// A certificate signing request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IstioCertificateRequest {
    /// PEM-encoded PKCS#10 CSR.
    #[prost(string, tag = "1")]
    pub csr: String,
    /// Requested lifetime, in seconds.
    #[prost(int64, tag = "3")]
    pub validity_duration: i64,
    /// Extra fields, e.g. `ImpersonatedIdentity`.
    #[prost(message, optional, tag = "4")]
    pub metadata: Option<prost_types::Struct>,
}

/// The signed certificate, then its issuers up to the root (PEM, one certificate each).
#[derive(Clone, PartialEq, prost::Message)]
pub struct IstioCertificateResponse {
    #[prost(string, repeated, tag = "1")]
    pub cert_chain: Vec<String>,
}

impl IstioCertificateRequest {
    /// The `ImpersonatedIdentity` metadata field, when it is a non-empty string.
    pub fn impersonated_identity(&self) -> Option<&str> {
        let value = self.metadata.as_ref()?.fields.get(IMPERSONATED_IDENTITY)?;
        match &value.kind {
            Some(prost_types::value::Kind::StringValue(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// Sets `ImpersonatedIdentity` to `identity`.
    pub fn impersonate(&mut self, identity: &str) {
        let value = prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue(identity.to_owned())),
        };
        self.metadata
            .get_or_insert_with(Default::default)
            .fields
            .insert(IMPERSONATED_IDENTITY.to_owned(), value);
    }
}
