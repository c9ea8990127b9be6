//! The gRPC service: `CreateCertificate` authenticates the caller's token, authorizes the
//! identity it asks for, and signs its CSR; served over TLS with a certificate of this CA.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, Result};
use futures::future::BoxFuture;
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

use super::authz::{self, Grant};
use super::proto::{
    IstioCertificateRequest, IstioCertificateResponse, CREATE_CERTIFICATE, SERVICE,
};
use super::signer::Signer;
use super::{authn, Settings};
use crate::identity::Identity;

/// The CA: its signer, who tells it its callers (the API server), and its settings.
pub struct Ca {
    pub signer: Signer,
    pub callers: authn::Callers,
    pub settings: Settings,
}

impl Ca {
    /// Answers one request; refusals name the identity and, for node agents, the node.
    pub async fn create_certificate(
        &self,
        token: Option<&str>,
        request: &IstioCertificateRequest,
    ) -> Result<IstioCertificateResponse, Status> {
        let token = token.ok_or_else(|| {
            Status::unauthenticated("no `authorization: Bearer <ServiceAccount token>` metadata")
        })?;
        let settings = &self.settings;
        let caller = self.callers.review(token, &settings.audience).await?;
        let requested = request.impersonated_identity();
        let grant = authz::decide(
            &caller,
            requested,
            &settings.trust_domain,
            &settings.node_agents,
        )
        .map_err(Status::permission_denied)?;
        let identity = match grant {
            Grant::Own(identity) => identity,
            Grant::OnNode { identity, node } => {
                self.authorize_on_node(&identity, &node).await?;
                identity
            }
        };
        let validity = validity(request.validity_duration, settings.max_validity);
        let cert_chain = self
            .signer
            .sign(&request.csr, &identity, validity)
            .map_err(|e| Status::invalid_argument(format!("{e:#}")))?;
        tracing::info!(%identity, ?validity, "signed a workload certificate");
        Ok(IstioCertificateResponse { cert_chain })
    }
}

impl Ca {
    /// A node agent may obtain `identity` when a pod of it runs on `node`, or when it is an
    /// ingress gateway's and `node` is labelled as running the gateway.
    async fn authorize_on_node(&self, identity: &Identity, node: &str) -> Result<(), Status> {
        let pods = self
            .callers
            .pods_on_node(node)
            .await
            .map_err(Status::unavailable)?;
        let on_node = authz::on_node(identity, node, &pods);
        let gateways = &self.settings.gateways;
        if on_node.is_ok() || !gateways.names(identity) {
            return on_node.map_err(Status::permission_denied);
        }
        let labels = self
            .callers
            .node_labels(node)
            .await
            .map_err(Status::unavailable)?;
        gateways
            .runs_gateway(identity, node, &labels)
            .map_err(Status::permission_denied)
    }
}

/// The requested lifetime (seconds; none or not positive: the maximum), at most `max`.
fn validity(requested: i64, max: Duration) -> Duration {
    match u64::try_from(requested) {
        Ok(secs) if secs > 0 => Duration::from_secs(secs).min(max),
        _ => max,
    }
}

/// Serves the CA on `listener` over TLS, its certificate naming `names`, until the task ends.
pub async fn serve(ca: Arc<Ca>, listener: tokio::net::TcpListener, names: &[String]) -> Result<()> {
    let (chain, key) = ca.signer.serving(names, ca.settings.max_validity * 365)?;
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(chain, key));
    tonic::transport::Server::builder()
        .tls_config(tls)
        .context("the CA's TLS settings")?
        .add_service(CaService(ca))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
        .await
        .context("serving the CA")
}

/// `IstioCertificateService` as tonic's generated servers are: routes by path to the method.
#[derive(Clone)]
pub struct CaService(pub Arc<Ca>);

impl NamedService for CaService {
    const NAME: &'static str = SERVICE;
}

impl<B> tower::Service<http::Request<B>> for CaService
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != CREATE_CERTIFICATE {
            let path = request.uri().path().to_owned();
            return Box::pin(async move {
                Ok(Status::unimplemented(format!("no method {path}")).into_http())
            });
        }
        let method = CreateCertificate(self.0.clone());
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::default();
            Ok(tonic::server::Grpc::new(codec).unary(method, request).await)
        })
    }
}

/// The one method, as tonic calls it.
struct CreateCertificate(Arc<Ca>);

impl UnaryService<IstioCertificateRequest> for CreateCertificate {
    type Response = IstioCertificateResponse;
    type Future = BoxFuture<'static, Result<Response<IstioCertificateResponse>, Status>>;

    fn call(&mut self, request: Request<IstioCertificateRequest>) -> Self::Future {
        let ca = self.0.clone();
        Box::pin(async move {
            let token = request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned);
            let answer = ca
                .create_certificate(token.as_deref(), request.get_ref())
                .await;
            if let Err(refused) = &answer {
                tracing::warn!(code = ?refused.code(), reason = refused.message(), "refused a certificate");
            }
            answer.map(Response::new)
        })
    }
}
