//! The authorization layer, inbound only, right below the route: the destination workload's
//! AuthorizationPolicies decide on each request ([`crate::authz`]); a denial fails with
//! [`Denied`], which the rescue layer answers `403 RBAC: access denied` (flag `DENY`). The path
//! was normalized above the route (`super::path`), so what was authorized is what is served
//! (`/public/../admin` is `/admin` for both).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::header::HOST;
use hyper::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::body::Body;
use super::route::Direction;
use super::telemetry::Peers;
use crate::authz::{Authorizer, AuthzFacts, HttpFacts};
use crate::errors::{BoxError, Denied};
use crate::facts::RequestAuth;
use crate::identity::Identity;
use crate::pipeline::ConfigState;
use crate::snapshot::Workload;

/// What an inbound connection's requests are authorized against.
struct InboundGuard {
    authorizer: Authorizer,
    config: ConfigState,
    workload: Arc<Workload>,
    pod_ip: IpAddr,
    /// The pod's IP and the port the client dialled.
    destination: SocketAddr,
    peer: SocketAddr,
    identity: Option<Identity>,
}

/// Authorizes the requests of an inbound connection; passes others through.
#[derive(Clone)]
pub struct AuthzLayer {
    guard: Option<Arc<InboundGuard>>,
}

impl AuthzLayer {
    /// For a connection between `peers` going `direction`: only inbound connections (with a
    /// known destination pod and client address) are authorized.
    pub fn new(
        authorizer: &Authorizer,
        config: ConfigState,
        peers: &Peers,
        direction: Direction,
    ) -> Self {
        let guard = match (direction, &peers.destination, peers.downstream) {
            (
                Direction::Inbound {
                    original_dst,
                    pod_ip,
                },
                Some(workload),
                Some(peer),
            ) => Some(Arc::new(InboundGuard {
                authorizer: authorizer.clone(),
                config,
                workload: workload.clone(),
                pod_ip,
                destination: SocketAddr::new(pod_ip, original_dst.port()),
                peer,
                identity: peers.peer_identity.clone(),
            })),
            _ => None,
        };
        Self { guard }
    }
}

impl<S> Layer<S> for AuthzLayer {
    type Service = Authorization<S>;
    fn layer(&self, inner: S) -> Authorization<S> {
        Authorization {
            inner,
            guard: self.guard.clone(),
        }
    }
}

/// See [`AuthzLayer`].
#[derive(Clone)]
pub struct Authorization<S> {
    inner: S,
    guard: Option<Arc<InboundGuard>>,
}

impl<S> Service<Request<Body>> for Authorization<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        if let Some(guard) = &self.guard {
            if let Err(denied) = guard.allows(&request) {
                return Box::pin(async { Err(denied.into()) });
            }
        }
        Box::pin(inner.oneshot(request))
    }
}

impl InboundGuard {
    /// Asks the policies about the request (its path normalized above the route).
    fn allows(&self, request: &Request<Body>) -> Result<(), Denied> {
        let authority = request.uri().authority().map(|a| a.as_str());
        let host_header = request.headers().get(HOST).and_then(|h| h.to_str().ok());
        let facts = AuthzFacts {
            peer: self.identity.as_ref(),
            source_ip: self.peer.ip(),
            remote_ip: self.peer.ip(),
            destination: self.destination,
            sni: None,
            http: Some(HttpFacts {
                method: request.method().as_str(),
                host: authority.or(host_header).unwrap_or_default(),
                path: request.uri().path(),
                headers: request.headers(),
                auth: request.extensions().get::<RequestAuth>(),
            }),
        };
        let snapshot = self.config.snapshot();
        let decision = self
            .authorizer
            .check(&snapshot, &self.workload, self.pod_ip, &facts);
        match decision.details() {
            None => Ok(()),
            details => Err(Denied { details }),
        }
    }
}
