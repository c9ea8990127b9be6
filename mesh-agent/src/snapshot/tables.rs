//! Route tables, gateways and security policies placed into the snapshot's indexes: mesh routes
//! by host, gateway routes merged per host (Istio merges VirtualServices at gateways, in age
//! order), policies by namespace, Sidecar outbound policies by namespace.

use std::collections::HashMap;
use std::sync::Arc;

use super::accepted::{Accepted, AcceptedMap};
use super::references::gateway_key;
use super::registry::Registry;
use super::routes::{compile as compile_routes, merged, HostRoutes, MESH_GATEWAY};
use super::{GatewayEntry, Snapshot};
use crate::document::ResourceKey;
use crate::resources::Resource;

/// Mesh and gateway routes of the accepted VirtualServices.
pub(crate) fn add_routes(
    snapshot: &mut Snapshot,
    services: &[(ResourceKey, Accepted)],
    accepted: &AcceptedMap,
    registry: &Registry,
) {
    for entry in accepted.values().filter(|a| a.key.kind == "Gateway") {
        if let Resource::Gateway(gateway) = entry.resource.as_ref() {
            let gateway = Arc::new(gateway.clone());
            let key = format!("{}/{}", entry.key.namespace, entry.key.name);
            snapshot.gateways.insert(
                key,
                GatewayEntry {
                    gateway,
                    routes: HashMap::new(),
                },
            );
        }
    }
    for (key, entry) in services {
        let Resource::VirtualService(vs) = entry.resource.as_ref() else {
            continue;
        };
        let hosts: Vec<String> = vs
            .spec
            .hosts
            .iter()
            .map(|h| registry.canonical(h, &key.namespace))
            .collect();
        let gateways: Vec<String> = match vs.spec.gateways.is_empty() {
            true => vec![MESH_GATEWAY.to_string()],
            false => vs
                .spec
                .gateways
                .iter()
                .map(|g| {
                    if g == MESH_GATEWAY {
                        g.clone()
                    } else {
                        gateway_key(g, &key.namespace)
                    }
                })
                .collect(),
        };
        for gateway in gateways {
            let routes = Arc::new(compile_routes(vs, &gateway, registry));
            if gateway == MESH_GATEWAY {
                hosts.iter().for_each(|h| {
                    snapshot
                        .routes
                        .entry(h.clone())
                        .or_default()
                        .push(routes.clone())
                });
            } else if let Some(entry) = snapshot.gateways.get_mut(&gateway) {
                let hosts = vs.spec.hosts.iter();
                hosts.for_each(|h| merge_at_gateway(&mut entry.routes, h, &routes));
            }
        }
    }
}

fn merge_at_gateway(
    routes: &mut HashMap<String, Arc<HostRoutes>>,
    host: &str,
    new: &Arc<HostRoutes>,
) {
    let combined = match routes.get(host) {
        Some(existing) => Arc::new(merged(existing, new)),
        None => new.clone(),
    };
    routes.insert(host.to_string(), combined);
}

/// Security policies (Istio 1.5's authentication Policies converted: their warnings go to
/// `problems`), NetworkPolicies, Telemetry resources, Sidecar outbound modes, EnvoyFilters' rate
/// limits and the MeshConfig.
pub(crate) fn add_policies(
    snapshot: &mut Snapshot,
    accepted: &AcceptedMap,
    problems: &mut Vec<crate::document::Problem>,
) {
    let policy = |a: &&Accepted| {
        matches!(
            a.resource.as_ref(),
            Resource::AuthorizationPolicy(_)
                | Resource::PeerAuthentication(_)
                | Resource::RequestAuthentication(_)
                | Resource::Sidecar(_)
                | Resource::Telemetry(_)
                | Resource::EnvoyFilter(_)
                | Resource::MeshConfig(_)
                | Resource::NetworkPolicy(_)
        )
    };
    let mut sorted: Vec<&Accepted> = accepted.values().filter(policy).collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for entry in sorted {
        let ns = entry.key.namespace.clone();
        match entry.resource.as_ref() {
            Resource::AuthorizationPolicy(p) => snapshot
                .authorization
                .entry(ns)
                .or_default()
                .push(Arc::new(p.clone())),
            Resource::PeerAuthentication(p) => snapshot
                .peer_authentication
                .entry(ns)
                .or_default()
                .push(Arc::new(p.clone())),
            Resource::RequestAuthentication(p) => snapshot
                .request_authentication
                .entry(ns)
                .or_default()
                .push(Arc::new(p.clone())),
            Resource::Sidecar(s) if s.spec.workload_selector.is_none() => {
                if let Some(policy) = &s.spec.outbound_traffic_policy {
                    snapshot.outbound.insert(ns.clone(), policy.mode);
                }
                let hosts = s.spec.egress.iter().flat_map(|e| e.hosts.iter().cloned());
                let hosts: Vec<String> = hosts.collect();
                if !hosts.is_empty() {
                    snapshot.sidecar_hosts.insert(ns, hosts);
                }
            }
            Resource::Telemetry(t) => snapshot
                .telemetry
                .entry(ns)
                .or_default()
                .push(Arc::new(t.clone())),
            Resource::MeshConfig(mesh) => snapshot.mesh = mesh.as_ref().clone(),
            Resource::EnvoyFilter(f) => snapshot.rate_limits.add(&ns, &entry.key.name, f),
            Resource::NetworkPolicy(p) => snapshot.add_network_policy(ns, p),
            _ => {}
        }
    }
    super::authn_policy::add_converted(snapshot, accepted, problems);
    snapshot.authz = super::authz::compile_all(&snapshot.authorization);
    snapshot.jwt = super::jwt::compile_all(&snapshot.request_authentication);
}
