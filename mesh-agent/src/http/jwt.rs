//! The end-user authentication layer, inbound only, right below the route and above
//! authorization (Envoy's `jwt_authn` before `rbac`): the destination workload's
//! RequestAuthentications check the request's tokens ([`crate::jwt`]). A refused token fails
//! with its [`JwtFailure`], which the rescue layer answers `401` (`403` for audiences) with
//! Envoy's message; a verified one puts a [`RequestAuth`] in the request's extensions for
//! authorization, and the app gets the headers the rules ask for.

use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::body::Body;
use super::route::Direction;
use super::telemetry::Peers;
use crate::errors::BoxError;
use crate::facts::RequestAuth;
use crate::jwt::{issuers_for, Authenticator};
use crate::pipeline::ConfigState;
use crate::snapshot::Workload;

/// What an inbound connection's requests are authenticated against.
struct InboundAuthn {
    authenticator: Authenticator,
    config: ConfigState,
    workload: Arc<Workload>,
    pod_ip: IpAddr,
}

/// Authenticates the requests of an inbound connection; passes others through.
#[derive(Clone)]
pub struct JwtLayer {
    authn: Option<Arc<InboundAuthn>>,
}

impl JwtLayer {
    /// For a connection between `peers` going `direction`: only inbound connections to a known
    /// workload are authenticated.
    pub fn new(
        authenticator: &Authenticator,
        config: ConfigState,
        peers: &Peers,
        direction: Direction,
    ) -> Self {
        let authn = match (direction, &peers.destination) {
            (Direction::Inbound { pod_ip, .. }, Some(workload)) => Some(Arc::new(InboundAuthn {
                authenticator: authenticator.clone(),
                config,
                workload: workload.clone(),
                pod_ip,
            })),
            _ => None,
        };
        Self { authn }
    }
}

impl<S> Layer<S> for JwtLayer {
    type Service = JwtAuthn<S>;
    fn layer(&self, inner: S) -> JwtAuthn<S> {
        JwtAuthn {
            inner,
            authn: self.authn.clone(),
        }
    }
}

/// See [`JwtLayer`].
#[derive(Clone)]
pub struct JwtAuthn<S> {
    inner: S,
    authn: Option<Arc<InboundAuthn>>,
}

impl<S> Service<Request<Body>> for JwtAuthn<S>
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
        let Some(authn) = self.authn.clone() else {
            return Box::pin(inner.oneshot(request));
        };
        let issuers = issuers_for(&authn.config.snapshot(), &authn.workload, authn.pod_ip);
        if issuers.is_empty() {
            return Box::pin(inner.oneshot(request));
        }
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let outcome = authn
                .authenticator
                .authenticate(&issuers, &mut parts.headers, &parts.uri)
                .await;
            let auth: Option<RequestAuth> = outcome.inspect_err(|failure| {
                let workload = &authn.workload;
                tracing::debug!(namespace = %workload.namespace, pod = %workload.pod_name, %failure, "JWT refused");
            })?;
            if let Some(auth) = auth {
                parts.extensions.insert(auth);
            }
            inner.oneshot(Request::from_parts(parts, body)).await
        })
    }
}
