//! The end-user authentication layer, inbound only, right below the route and above
//! authorization (Envoy's `jwt_authn` before `rbac`): the destination workload's
//! RequestAuthentications check the request's tokens ([`crate::jwt`]). A refused token fails
//! with its [`JwtFailure`](crate::jwt::JwtFailure), which the rescue layer answers `401`
//! (`403` for audiences) with Envoy's message; a verified one puts a [`RequestAuth`] in the
//! request's extensions for authorization, and the app gets the headers the rules ask for.

use std::sync::Arc;

use hyper::{Request, Response};
use tower::{Service, ServiceExt};

use super::body::Body;
use super::inbound_step::{inbound_to, Answer, InboundLayer, InboundStep, InboundTo};
use super::route::Direction;
use super::telemetry::Peers;
use crate::errors::BoxError;
use crate::facts::RequestAuth;
use crate::jwt::{issuers_for, Authenticator};
use crate::pipeline::ConfigState;

/// What an inbound connection's requests are authenticated against.
pub struct InboundAuthn {
    authenticator: Authenticator,
    config: ConfigState,
    to: InboundTo,
}

/// Authenticates the requests of an inbound connection; passes others through.
pub type JwtLayer = InboundLayer<InboundAuthn>;

impl JwtLayer {
    /// For a connection between `peers` going `direction`: only inbound connections to a known
    /// workload are authenticated.
    pub fn new(
        authenticator: &Authenticator,
        config: ConfigState,
        peers: &Peers,
        direction: Direction,
    ) -> Self {
        Self::with(inbound_to(peers, direction).map(|to| InboundAuthn {
            authenticator: authenticator.clone(),
            config,
            to,
        }))
    }
}

impl InboundStep for InboundAuthn {
    fn run<S>(self: Arc<Self>, request: Request<Body>, next: S) -> Answer
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = BoxError> + Send + 'static,
        S::Future: Send,
    {
        let (snapshot, to) = (self.config.snapshot(), &self.to);
        let issuers = issuers_for(&snapshot, &to.workload, to.pod_ip);
        if issuers.is_empty() {
            return Box::pin(next.oneshot(request));
        }
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let outcome = self
                .authenticator
                .authenticate(&issuers, &mut parts.headers, &parts.uri)
                .await;
            let auth: Option<RequestAuth> = outcome.inspect_err(|failure| {
                let workload = &self.to.workload;
                tracing::debug!(namespace = %workload.namespace, pod = %workload.pod_name, %failure, "JWT refused");
            })?;
            if let Some(auth) = auth {
                parts.extensions.insert(auth);
            }
            next.oneshot(Request::from_parts(parts, body)).await
        })
    }
}
