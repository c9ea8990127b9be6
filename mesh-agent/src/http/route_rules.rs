//! The outbound half of the route layer that applies VirtualService rules: match, pick the
//! weighted destination, answer redirects and direct responses, rewrite and edit headers,
//! resolve the destination and the mirrors to [`RouteTarget`]s.

use std::sync::Arc;

use hyper::{Request, Response, Version};

use super::answer;
use super::body::Body;
use super::mirror::{Shadow, Shadows};
use super::route::{upstream_protocol, Route};
use super::target::{RouteTarget, Unreachable};
use crate::errors::BoxError;
use crate::resources::{Destination, HttpRoute, Percent};
use crate::routing::{self, headers, MatchedRule};
use crate::snapshot::{Service as MeshService, ServicePort, Snapshot};

/// What the rules made of a request.
pub(super) enum Routed {
    /// Answered here (redirect, direct response, no route).
    Answer(Result<Response<Body>, BoxError>),
    /// Goes on, by this rule when one matched.
    Forward(Request<Body>, Option<MatchedRule>),
}

impl<S> Route<S> {
    /// Routes an outbound request to `service:port` by the VirtualService rules for it.
    pub(super) fn by_rules(
        &self,
        snapshot: &Snapshot,
        service: &Arc<MeshService>,
        port: &ServicePort,
        request: Request<Body>,
    ) -> Routed {
        let namespace = self.namespace(service);
        let table = snapshot
            .routes(&service.hostname, port.port, namespace)
            .cloned();
        let gateway = crate::snapshot::MESH_GATEWAY;
        self.by_table(snapshot, table, port, namespace, gateway, request)
    }

    /// Routes a request by `table` (the rules bound to `gateway` for what it is addressed to);
    /// destinations resolve as seen from `namespace`; `port` is the port dialled.
    pub(super) fn by_table(
        &self,
        snapshot: &Snapshot,
        table: Option<Arc<crate::snapshot::RouteTable>>,
        port: &ServicePort,
        namespace: &str,
        gateway: &str,
        mut request: Request<Body>,
    ) -> Routed {
        use routing::Decision;
        let facts = routing::MatchInput {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            port: port.port,
            source_labels: self.client.source.as_deref().map(|w| w.labels.as_ref()),
            source_namespace: self.client.source.as_deref().map(|w| w.namespace.as_str()),
            gateway,
        };
        let decision = routing::decide(table.as_deref(), &facts, &self.client.chance);
        let (table, rule, destination) = match (decision, table) {
            (Err(no_route), _) => return Routed::Answer(Err(no_route.into())),
            (Ok(Decision::Direct), _) | (_, None) => return Routed::Forward(request, None),
            (Ok(Decision::Redirect { rule }), Some(table)) => {
                let redirect = table.http[rule].redirect.as_ref().expect("decided on it");
                return Routed::Answer(Ok(answer::redirect(redirect, &facts)));
            }
            (Ok(Decision::DirectResponse { rule }), Some(table)) => {
                let direct = table.http[rule]
                    .direct_response
                    .as_ref()
                    .expect("decided on it");
                return Routed::Answer(Ok(answer::direct_response(direct)));
            }
            (Ok(Decision::Forward { rule, destination }), Some(table)) => {
                (table, rule, destination)
            }
        };
        let holding = routing::matching::first_holding(&table.http[rule], &facts).cloned();
        let matched = MatchedRule::new(table, rule, Some(destination));
        let version = request.version();
        let forward = matched.destination().cloned().unwrap_or_default();
        let target = self.destination_target(snapshot, &forward, port, namespace, version);
        let shadows = self.shadows(snapshot, matched.rule(), port, namespace, version);
        if let Some(rewrite) = &matched.rule().rewrite {
            routing::rewrite::apply(rewrite, holding.as_ref(), &mut request);
        }
        let edits = matched.header_edits();
        headers::edit(request.headers_mut(), headers::Side::Request, &edits);
        let extensions = request.extensions_mut();
        extensions.insert(target);
        extensions.insert(shadows);
        extensions.insert(matched.clone());
        Routed::Forward(request, Some(matched))
    }

    /// The target of a rule's `destination`: its host (as the client's namespace resolves it),
    /// its port (else the host's only port, else the port the client dialled) and subset.
    fn destination_target(
        &self,
        snapshot: &Snapshot,
        destination: &Destination,
        dialled: &ServicePort,
        namespace: &str,
        version: Version,
    ) -> RouteTarget {
        let found = snapshot
            .registry()
            .lookup_shared(&destination.host, namespace);
        let Some(service) = found else {
            return RouteTarget {
                service: None,
                balancer: Arc::new(Unreachable),
                upstream: upstream_protocol(None, version),
            };
        };
        let wanted = destination.port.as_ref().map(|p| p.number);
        let port = match (wanted, service.ports.as_slice()) {
            (Some(number), ports) => ports.iter().find(|p| p.port == number),
            (None, [only]) => Some(only),
            (None, ports) => ports.iter().find(|p| p.port == dialled.port),
        };
        let port = port.unwrap_or(dialled);
        self.cluster_target(
            snapshot,
            service,
            port,
            destination.subset.as_deref(),
            version,
        )
    }

    /// The rule's mirrors (`mirror` with `mirrorPercentage`, and `mirrors`), resolved.
    fn shadows(
        &self,
        snapshot: &Snapshot,
        rule: &HttpRoute,
        dialled: &ServicePort,
        namespace: &str,
        version: Version,
    ) -> Shadows<RouteTarget> {
        let share = |p: Option<&Percent>| p.map_or(100.0, |p| p.value);
        let single = rule
            .mirror
            .iter()
            .map(|m| (m, share(rule.mirror_percentage.as_ref())));
        let many = rule
            .mirrors
            .iter()
            .map(|m| (&m.destination, share(m.percentage.as_ref())));
        let shadows = single.chain(many).map(|(destination, percentage)| Shadow {
            target: self.destination_target(snapshot, destination, dialled, namespace, version),
            percentage,
        });
        Shadows(shadows.collect())
    }
}
