//! The route layer: decides once where a request goes and puts that decision, a
//! [`RouteTarget`], into the request's extensions; later layers read their slice of it.
//!
//! Outbound, a request to a Service is matched against the VirtualService rules the snapshot
//! has for its host and port ([`routing::decide`]): the first matching rule's weighted
//! destination (host, subset, port) becomes the target, with the rule's rewrite and header
//! edits applied and its mirrors resolved; a redirect or direct response is answered here; no
//! matching rule is [`NoRoute`](super::errors::NoRoute). Without rules, the Service itself over
//! all its endpoints. A backend pod IP:port of a Service (Cilium's socket LB translated the
//! ClusterIP before the capture hook) is routed as that Service. Not a Service: the original
//! destination. Inbound: the app in the pod. The path is first normalized as MeshConfig
//! `pathNormalization` says ([`normalize_path`]), for every direction, as Envoy does.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::header::HOST;
use hyper::{Request, Response, Version};
use tower::{Layer, Service, ServiceExt};

use super::body::Body;
use super::cluster_target::ClusterTarget;
use super::path::normalize_path;
use super::route_rules::Routed;
use super::target::{Passthrough, RouteTarget, Unreachable};
use super::telemetry::Observed;
use crate::chance::Chance;
use crate::errors::{BlackHole, BoxError};
use crate::lb::Balancers;
use crate::pipeline::ConfigState;
use crate::resilience::breaker::UpstreamProtocol;
use crate::routing::headers;
use crate::snapshot::{
    pseudo_service, Egress, Protocol as PortProtocol, Service as MeshService, ServicePort,
    Snapshot, Workload, BLACK_HOLE_CLUSTER, PASSTHROUGH_CLUSTER,
};

mod gateway;

/// The Service port an outbound connection is for, when it is for one.
type OutboundService<'s> = Option<(&'s Arc<MeshService>, &'s ServicePort)>;

pub use gateway::GatewayBinding;

/// Which side of the node a connection is on, and what it was addressed to.
#[derive(Clone, Copy, Debug)]
pub enum Direction {
    /// A pod's outgoing connection, to `original_dst` (a ClusterIP:port or any address).
    Outbound {
        /// What the app dialled.
        original_dst: SocketAddr,
    },
    /// A connection to a pod: `original_dst` is `pod_ip:port`.
    Inbound {
        /// What the client dialled.
        original_dst: SocketAddr,
        /// The pod's IP.
        pod_ip: IpAddr,
    },
    /// A connection to a port of the node's ingress gateway; each request carries the
    /// [`GatewayBinding`] its Host selected, and is routed by that Gateway's VirtualServices.
    Gateway {
        /// The gateway listener's address (its port is the Gateway server's).
        listener: SocketAddr,
    },
}

/// Who sends a connection's requests, and what routing shares across connections.
#[derive(Clone, Default)]
pub struct RouteClient {
    /// The client workload (its labels and namespace are matched on).
    pub source: Option<Arc<Workload>>,
    /// The client's IP (consistent hash on the source IP).
    pub source_ip: Option<IpAddr>,
    /// Balancers of the clusters in use.
    pub balancers: Arc<Balancers>,
    /// Draws weighted destinations.
    pub chance: Chance,
}

/// Inserts the [`RouteTarget`] of each request.
#[derive(Clone)]
pub struct RouteLayer {
    config: ConfigState,
    direction: Direction,
    client: RouteClient,
}

impl RouteLayer {
    /// Routes the requests of a connection going `direction`, with the snapshot in force.
    pub fn new(config: ConfigState, direction: Direction) -> Self {
        let client = RouteClient::default();
        Self {
            config,
            direction,
            client,
        }
    }

    /// The same, for requests from `client`.
    pub fn for_client(self, client: RouteClient) -> Self {
        Self { client, ..self }
    }
}

impl<S> Layer<S> for RouteLayer {
    type Service = Route<S>;
    fn layer(&self, inner: S) -> Route<S> {
        Route {
            inner,
            config: self.config.clone(),
            direction: self.direction,
            client: self.client.clone(),
        }
    }
}

/// See [`RouteLayer`].
#[derive(Clone)]
pub struct Route<S> {
    inner: S,
    pub(super) config: ConfigState,
    pub(super) direction: Direction,
    pub(super) client: RouteClient,
}

impl<S> Route<S> {
    /// The target of a request to what the connection is addressed to, without rules; outbound,
    /// `service` is the Service port it is for ([`Self::outbound_service`]).
    fn target(
        &self,
        snapshot: &Snapshot,
        service: OutboundService,
        version: Version,
    ) -> RouteTarget {
        match self.direction {
            Direction::Outbound { original_dst } => match service {
                Some((service, port)) => {
                    self.cluster_target(snapshot, service, port, None, version)
                }
                None => RouteTarget {
                    service: Some(pseudo_service(PASSTHROUGH_CLUSTER)),
                    balancer: Arc::new(Passthrough(original_dst)),
                    upstream: upstream_protocol(None, version),
                },
            },
            Direction::Inbound {
                original_dst,
                pod_ip,
            } => {
                // The app, on the pod's own IP (dialled from inside its netns: a loopback-only
                // listener stays private).
                let endpoint = SocketAddr::new(pod_ip, original_dst.port());
                let found = snapshot.service_of_endpoint(endpoint);
                RouteTarget {
                    service: found.map(|(service, _)| service.clone()),
                    balancer: Arc::new(Passthrough(endpoint)),
                    upstream: upstream_protocol(found.map(|(_, port)| port), version),
                }
            }
            Direction::Gateway { .. } => RouteTarget {
                service: None,
                balancer: Arc::new(Unreachable),
                upstream: upstream_protocol(None, version),
            },
        }
    }

    /// Port `port` of `service` (one `subset` of it), balanced by its cluster's policy.
    pub(super) fn cluster_target(
        &self,
        snapshot: &Snapshot,
        service: &Arc<MeshService>,
        port: &ServicePort,
        subset: Option<&str>,
        version: Version,
    ) -> RouteTarget {
        let original_dst = match self.direction {
            Direction::Outbound { original_dst } => Some(original_dst),
            Direction::Inbound { .. } | Direction::Gateway { .. } => None,
        };
        let balancer = ClusterTarget {
            cluster: snapshot
                .cluster(&service.hostname, port.port, subset)
                .cloned(),
            balancers: self.client.balancers.clone(),
            source_ip: self.client.source_ip,
            original_dst,
        };
        RouteTarget {
            service: Some(service.clone()),
            balancer: Arc::new(balancer),
            upstream: upstream_protocol(Some(port), version),
        }
    }

    /// Where an outbound `request` to `original_dst` goes ([`Snapshot::egress`]): a ClusterIP
    /// or ServiceEntry address, or a backend of a Service (Cilium's socket LB translated the
    /// ClusterIP first), where the request's authority picks among the Services the backend
    /// serves; else the service its authority names; else passthrough or the black hole.
    fn egress<'s>(
        &self,
        snapshot: &'s Snapshot,
        original_dst: SocketAddr,
        request: &Request<Body>,
    ) -> Egress<'s> {
        let authority = request.uri().authority().map(|a| a.as_str());
        let host = authority.or_else(|| request.headers().get(HOST)?.to_str().ok());
        let source = self.client.source.as_deref();
        let namespace = source.map_or("default", |w| w.namespace.as_str());
        let egress = snapshot.egress(original_dst, host, namespace);
        if let Egress::BlackHole = egress {
            let client = source.map_or("unknown", |w| w.pod_name.as_str());
            tracing::info!(%client, namespace, %original_dst, host, "REGISTRY_ONLY: destination not in the registry; 502 (BlackHoleCluster)");
        }
        egress
    }

    /// The client's namespace, which picks the VirtualService and resolves short host names.
    pub(super) fn namespace<'a>(&'a self, service: &'a MeshService) -> &'a str {
        let source = self.client.source.as_deref();
        source.map_or(service.namespace.as_str(), |w| w.namespace.as_str())
    }
}

/// REGISTRY_ONLY refused the request: 502 from the rescue layer, counted as `BlackHoleCluster`.
fn black_hole(request: &Request<Body>) -> BoxFuture<'static, Result<Response<Body>, BoxError>> {
    if let Some(observed) = request.extensions().get::<Observed>() {
        observed.set_service(Some(pseudo_service(BLACK_HOLE_CLUSTER)));
    }
    Box::pin(async { Err(BlackHole.into()) })
}

/// HTTP/2 to the upstream when the port is declared HTTP/2 or gRPC, or the client speaks it.
pub(super) fn upstream_protocol(port: Option<&ServicePort>, version: Version) -> UpstreamProtocol {
    match (port.map(|p| p.protocol), version) {
        (Some(PortProtocol::Http2 | PortProtocol::Grpc), _) | (_, Version::HTTP_2) => {
            UpstreamProtocol::Http2
        }
        _ => UpstreamProtocol::Http1,
    }
}

impl<S> Service<Request<Body>> for Route<S>
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

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let snapshot = self.config.snapshot();
        normalize_path(&mut request, snapshot.mesh.path_normalization.normalization);
        let egress = match self.direction {
            Direction::Outbound { original_dst } => {
                Some(self.egress(&snapshot, original_dst, &request))
            }
            Direction::Inbound { .. } | Direction::Gateway { .. } => None,
        };
        let service = match egress {
            Some(Egress::Service(service, port)) => Some((service, port)),
            Some(Egress::BlackHole) => return black_hole(&request),
            Some(Egress::Passthrough) | None => None,
        };
        let routed = match self.direction {
            Direction::Outbound { .. } => match service {
                Some((service, port)) => self.by_rules(&snapshot, service, port, request),
                None => Routed::Forward(request, None),
            },
            Direction::Inbound { .. } => Routed::Forward(request, None),
            Direction::Gateway { listener } => self.at_gateway(&snapshot, listener.port(), request),
        };
        let (mut request, matched) = match routed {
            Routed::Answer(response) => return Box::pin(async move { response }),
            Routed::Forward(request, matched) => (request, matched),
        };
        if request.extensions().get::<RouteTarget>().is_none() {
            let target = self.target(&snapshot, service, request.version());
            request.extensions_mut().insert(target);
        }
        if let Some(observed) = request.extensions().get::<Observed>() {
            let target = request.extensions().get::<RouteTarget>();
            observed.set_service(target.and_then(|t| t.service.clone()));
        }
        let answer = self.inner.clone().oneshot(request);
        Box::pin(async move {
            let mut response = answer.await?;
            if let Some(matched) = matched {
                let edits = matched.header_edits();
                headers::edit(response.headers_mut(), headers::Side::Response, &edits);
            }
            Ok(response)
        })
    }
}
