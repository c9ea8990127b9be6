//! The authorization layer, inbound only, right below the route: the destination workload's
//! AuthorizationPolicies decide on each request ([`crate::authz`]) in Istio's order. A CUSTOM
//! rule that matches sends the request to its external authorizer first ([`ExtAuthz`]): a
//! refusal is the authorizer's answer (flag `UAEX`); allowed, its header edits apply and DENY
//! and ALLOW policies decide. Their denial fails with [`Denied`], which the rescue layer
//! answers `403 RBAC: access denied` (flag `DENY`). The path was normalized above the route
//! (`super::path`), so what was authorized is what is served.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::header::HOST;
use hyper::{Request, Response};
use tower::{Service, ServiceExt};

use super::body::Body;
use super::ext_authz::{Allowed, CheckedRequest, ExtAuthz};
use super::inbound_step::{inbound_to, Answer, InboundLayer, InboundStep, InboundTo};
use super::route::Direction;
use super::telemetry::Peers;
use crate::authz::{custom_check, policies_for, Authorizer, AuthzFacts, CustomCheck, HttpFacts};
use crate::errors::{BoxError, Denied};
use crate::facts::RequestAuth;
use crate::identity::Identity;
use crate::pipeline::ConfigState;

/// What an inbound connection's requests are authorized against.
pub struct InboundGuard {
    authorizer: Authorizer,
    ext_authz: ExtAuthz,
    config: ConfigState,
    to: InboundTo,
    peer: SocketAddr,
    identity: Option<Identity>,
}

/// Authorizes the requests of an inbound connection; passes others through.
pub type AuthzLayer = InboundLayer<InboundGuard>;

impl AuthzLayer {
    /// For a connection between `peers` going `direction`: only inbound connections (with a
    /// known destination pod and client address) are authorized.
    pub fn new(
        (authorizer, ext_authz): (&Authorizer, &ExtAuthz),
        config: ConfigState,
        peers: &Peers,
        direction: Direction,
    ) -> Self {
        let guard = inbound_to(peers, direction).zip(peers.downstream);
        Self::with(guard.map(|(to, peer)| InboundGuard {
            authorizer: authorizer.clone(),
            ext_authz: ext_authz.clone(),
            config,
            to,
            peer,
            identity: peers.peer_identity.clone(),
        }))
    }
}

impl InboundStep for InboundGuard {
    fn run<S>(self: Arc<Self>, mut request: Request<Body>, next: S) -> Answer
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = BoxError> + Send + 'static,
        S::Future: Send,
    {
        let Some(custom) = self.first_step(&request) else {
            return Box::pin(next.oneshot(request));
        };
        let custom = match custom {
            Ok(custom) => custom,
            Err(denied) => return Box::pin(async { Err(denied.into()) }),
        };
        Box::pin(async move {
            let allowed = self.ask(&custom, self.checked(&request)).await?;
            edit_request(&mut request, &allowed);
            self.allows(&request)?;
            let mut response = next.oneshot(request).await?;
            let headers = response.headers_mut();
            for (name, value) in allowed.downstream {
                headers.append(name, value);
            }
            Ok(response)
        })
    }
}

impl InboundGuard {
    /// What the policies know of the request (its path normalized above the route).
    fn facts<'r>(&'r self, request: &'r Request<Body>) -> AuthzFacts<'r> {
        let authority = request.uri().authority().map(|a| a.as_str());
        let host_header = request.headers().get(HOST).and_then(|h| h.to_str().ok());
        AuthzFacts {
            peer: self.identity.as_ref(),
            source_ip: self.peer.ip(),
            remote_ip: self.peer.ip(),
            destination: self.to.destination,
            sni: None,
            http: Some(HttpFacts {
                method: request.method().as_str(),
                host: authority.or(host_header).unwrap_or_default(),
                path: request.uri().path(),
                headers: request.headers(),
                auth: request.extensions().get::<RequestAuth>(),
            }),
        }
    }

    /// With one walk of the policies in scope: the CUSTOM rule whose external authorizer must
    /// be asked first (`Some(Ok)`), else the DENY/ALLOW verdict — `None` when it allows.
    fn first_step(&self, request: &Request<Body>) -> Option<Result<CustomCheck, Denied>> {
        let (snapshot, to) = (self.config.snapshot(), &self.to);
        let facts = self.facts(request);
        let policies = policies_for(&snapshot, &to.workload, to.pod_ip);
        if let Some(custom) = custom_check(&policies, &facts) {
            return Some(Ok(custom));
        }
        let decision = self
            .authorizer
            .check_policies(&policies, &to.workload, &facts);
        decision.details().map(|details| {
            Err(Denied {
                details: Some(details),
            })
        })
    }

    /// What the external authorizer is told of `request`.
    fn checked<'r>(&self, request: &'r Request<Body>) -> CheckedRequest<'r> {
        CheckedRequest {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            version: request.version(),
            source: self.peer,
            destination: self.to.destination,
            source_principal: self.identity.as_ref().map(ToString::to_string),
        }
    }

    /// Asks the external authorizer `custom` names.
    async fn ask(
        &self,
        custom: &CustomCheck,
        checked: CheckedRequest<'_>,
    ) -> Result<Allowed, BoxError> {
        let snapshot = self.config.snapshot();
        let asked = self.ext_authz.check(&snapshot, &custom.provider, checked);
        asked.await.map_err(|denied| {
            let workload = &self.to.workload;
            tracing::debug!(namespace = %workload.namespace, pod = %workload.pod_name, rule = %custom.rule, status = %denied.status, "external authorization denied");
            denied.into()
        })
    }

    /// Asks the DENY and ALLOW policies about the request.
    fn allows(&self, request: &Request<Body>) -> Result<(), Denied> {
        let (snapshot, to) = (self.config.snapshot(), &self.to);
        let facts = self.facts(request);
        let decision = self
            .authorizer
            .check(&snapshot, &to.workload, to.pod_ip, &facts);
        match decision.details() {
            None => Ok(()),
            details => Err(Denied { details }),
        }
    }
}

/// The authorizer's edits of an allowed request.
fn edit_request(request: &mut Request<Body>, allowed: &Allowed) {
    let headers = request.headers_mut();
    for name in &allowed.remove {
        headers.remove(name);
    }
    for (name, value, append) in &allowed.upstream {
        match append {
            true => headers.append(name.clone(), value.clone()),
            false => headers.insert(name.clone(), value.clone()).is_some(),
        };
    }
}
