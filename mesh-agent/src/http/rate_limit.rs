//! The local rate limit layer: below the route (a route's configuration and `rate_limits`
//! need the route), above faults and mirrors, it asks [`LocalRateLimits::check`] about each
//! request on the side its connection serves — SIDECAR_INBOUND for the pod receiving,
//! SIDECAR_OUTBOUND for the pod sending, GATEWAY at the ingress gateway — and refuses an
//! enforced limit with [`RateLimited`] (429 `local_rate_limited`, flag `RL`, answered by the
//! rescue layer). Verdicts are counted in `mesh_local_rate_limit_requests_total`. Then the
//! global `ratelimit` filters of the side ask their rate limit service
//! ([`super::rate_limit_global`]).

use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::body::Body;
use super::rate_limit_global::ask;
use super::rate_limit_metrics::{Decision, RateLimiting};
use super::route::Direction;
use super::target::RouteTarget;
use super::telemetry::Peers;
use crate::chance::Chance;
use crate::errors::{BoxError, RateLimited};
use crate::pipeline::ConfigState;
use crate::ratelimit::{
    global_checks, GlobalCheck, LocalRateLimits, RequestFacts, RequestPlace, Verdict,
};
use crate::resources::PatchContext;
use crate::routing::MatchedRule;
use crate::snapshot::Workload;

/// Limits the requests of one connection.
#[derive(Clone)]
pub struct RateLimitLayer {
    shared: RateLimiting,
    config: ConfigState,
    chance: Chance,
    side: Side,
}

/// The side a connection's requests are limited on.
#[derive(Clone)]
struct Side {
    context: PatchContext,
    workload: Option<Arc<Workload>>,
    port: u16,
    remote: Option<IpAddr>,
}

impl RateLimitLayer {
    /// The limiter of a connection between `peers` going `direction`.
    pub fn new(
        shared: RateLimiting,
        config: ConfigState,
        chance: Chance,
        peers: &Peers,
        direction: Direction,
    ) -> Self {
        let downstream = peers.downstream.map(|a| a.ip());
        let side = match direction {
            Direction::Inbound { original_dst, .. } => Side {
                context: PatchContext::SidecarInbound,
                workload: peers.destination.clone(),
                port: original_dst.port(),
                remote: downstream,
            },
            Direction::Outbound { original_dst } => Side {
                context: PatchContext::SidecarOutbound,
                workload: peers.source.clone(),
                port: original_dst.port(),
                remote: peers.pod_ip.or(downstream),
            },
            Direction::Gateway { listener } => Side {
                context: PatchContext::Gateway,
                workload: peers.source.clone(),
                port: listener.port(),
                remote: downstream,
            },
        };
        Self {
            shared,
            config,
            chance,
            side,
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;
    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`RateLimitLayer`].
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    layer: RateLimitLayer,
}

impl RateLimitLayer {
    /// The limits in force on this side, empty when none applies.
    fn limits(&self) -> LocalRateLimits {
        let snapshot = self.config.snapshot();
        let Some(workload) = &self.side.workload else {
            return LocalRateLimits::default();
        };
        if snapshot.rate_limits.is_empty() {
            return LocalRateLimits::default();
        }
        let root = &snapshot.mesh.root_namespace;
        let (namespace, labels) = (&workload.namespace, &workload.labels);
        let filters = snapshot
            .rate_limits
            .for_workload(root, namespace, labels, self.side.context);
        LocalRateLimits {
            instance: format!("{namespace}/{}", workload.pod_name).into(),
            filters,
        }
    }

    /// The local verdicts on `request`, counted; the refusal when one is enforced; else the
    /// questions for the rate limit services.
    fn decide(&self, request: &mut Request<Body>) -> Result<Vec<GlobalCheck>, RateLimited> {
        let limits = self.limits();
        if limits.filters.is_empty() {
            return Ok(Vec::new());
        }
        let port = self.side.port;
        let vhost = match self.side.context {
            PatchContext::SidecarInbound => format!("inbound|http|{port}"),
            _ => request
                .extensions()
                .get::<RouteTarget>()
                .and_then(|t| t.service.as_ref())
                .map_or_else(String::new, |s| format!("{}:{port}", s.hostname)),
        };
        let matched = request.extensions().get::<MatchedRule>();
        let route = matched.and_then(|m| m.rule().name.clone());
        let place = RequestPlace {
            port,
            vhost: Some(vhost.as_str()),
            route: route.as_deref(),
        };
        let facts = RequestFacts {
            headers: request.headers(),
            remote: self.side.remote,
            method: Some(request.method()),
            uri: Some(request.uri()),
        };
        let checks = match limits.has_global() {
            true => global_checks(&limits.filters, &place, facts),
            false => Vec::new(),
        };
        let verdicts = match limits.is_empty() {
            true => Vec::new(),
            false => limits.check(&place, facts, self.shared.buckets(), &self.chance),
        };
        self.apply(verdicts, request)?;
        Ok(checks)
    }

    fn apply(
        &self,
        verdicts: Vec<Verdict>,
        request: &mut Request<Body>,
    ) -> Result<(), RateLimited> {
        for verdict in verdicts {
            let limited = match verdict {
                Verdict::Allowed { stat_prefix } => {
                    self.shared.counted(&stat_prefix, Decision::ok);
                    continue;
                }
                Verdict::Limited(limited) => limited,
            };
            if limited.enforced {
                self.shared
                    .counted(&limited.stat_prefix, Decision::enforced);
                return Err(RateLimited {
                    status: limited.status,
                    headers: limited.response_headers,
                });
            }
            self.shared
                .counted(&limited.stat_prefix, Decision::rate_limited);
            for (name, value) in limited.request_headers {
                request.headers_mut().insert(name, value);
            }
        }
        Ok(())
    }
}

impl<S> Service<Request<Body>> for RateLimit<S>
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
        let checks = match self.layer.decide(&mut request) {
            Ok(checks) => checks,
            Err(limited) => return Box::pin(async move { Err(limited.into()) }),
        };
        let inner = self.inner.clone();
        if checks.is_empty() {
            return Box::pin(inner.oneshot(request));
        }
        let layer = self.layer.clone();
        Box::pin(async move {
            let added = ask(&layer.shared, &layer.config, checks, &mut request).await?;
            let mut response = inner.oneshot(request).await?;
            for (name, value) in added {
                response.headers_mut().append(name, value);
            }
            Ok(response)
        })
    }
}
