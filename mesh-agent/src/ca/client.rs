//! A client of Istio's certificate API (ours, istiod, or any compatible CA): sends a CSR with
//! a ServiceAccount token, optionally for an impersonated identity, and returns the chain.

use anyhow::{Context as _, Result};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use super::proto::{IstioCertificateRequest, IstioCertificateResponse, CREATE_CERTIFICATE};

/// Where the CA is and how to trust it.
#[derive(Clone, Debug)]
pub struct CaEndpoint {
    /// `https://host:port`.
    pub address: String,
    /// The name its certificate must carry.
    pub server_name: String,
    /// The root (PEM) its certificate chains to.
    pub root: String,
}

/// Asks the CA to sign `request`, authenticated by `token`; a refusal is the CA's gRPC status.
pub async fn create_certificate(
    ca: &CaEndpoint,
    token: &str,
    request: IstioCertificateRequest,
) -> Result<IstioCertificateResponse, tonic::Status> {
    let channel = connect(ca)
        .await
        .map_err(|e| tonic::Status::unavailable(format!("{e:#}")))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| {
        tonic::Status::unavailable(format!("the CA at {} is not ready: {e}", ca.address))
    })?;
    let mut request = tonic::Request::new(request);
    let bearer = format!("Bearer {token}")
        .parse()
        .map_err(|_| tonic::Status::invalid_argument("the token is not valid metadata"))?;
    request.metadata_mut().insert("authorization", bearer);
    let path = http::uri::PathAndQuery::from_static(CREATE_CERTIFICATE);
    let codec = tonic_prost::ProstCodec::default();
    grpc.unary(request, path, codec)
        .await
        .map(tonic::Response::into_inner)
}

async fn connect(ca: &CaEndpoint) -> Result<tonic::transport::Channel> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.root))
        .domain_name(ca.server_name.clone());
    Endpoint::from_shared(ca.address.clone())
        .with_context(|| format!("CA address `{}`", ca.address))?
        .tls_config(tls)
        .context("the CA client's TLS settings")?
        .connect()
        .await
        .with_context(|| format!("connecting to the CA at {}", ca.address))
}
