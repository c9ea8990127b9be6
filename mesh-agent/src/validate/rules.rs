//! Istio's validation rules, kind by kind (`pkg/config/validation` ported field by field): each
//! kind's plain function over its typed spec, its findings as problems of the document.

use super::authentication::{peer_authentication, request_authentication};
use super::authorization::authorization_policy;
use super::destination_rule::destination_rule;
use super::envoy_filter::envoy_filter;
use super::finding::Findings;
use super::gateway::gateway;
use super::mesh_config::mesh_config;
use super::network_policy::network_policy;
use super::service_entry::service_entry;
use super::sidecar::sidecar;
use super::telemetry::telemetry;
use super::virtual_service::virtual_service;
use crate::document::{namespace_of, Problem, RawResource};
use crate::resources::Resource;

/// What Istio's validation says about `resource`, read from `raw`: errors and warnings.
pub(crate) fn check(raw: &RawResource, resource: &Resource) -> Vec<Problem> {
    let mut found = Findings::default();
    let namespace = namespace_of(raw);
    match resource {
        Resource::VirtualService(vs) => virtual_service(&mut found, &vs.spec, namespace),
        Resource::DestinationRule(dr) => destination_rule(&mut found, &dr.spec, namespace),
        Resource::Gateway(g) => gateway(&mut found, &g.spec, &raw.name),
        Resource::ServiceEntry(entry) => service_entry(&mut found, &entry.spec, namespace),
        Resource::Sidecar(s) => sidecar(&mut found, &s.spec),
        Resource::EnvoyFilter(f) => envoy_filter(&mut found, &f.spec),
        Resource::AuthorizationPolicy(p) => authorization_policy(&mut found, &p.spec),
        Resource::PeerAuthentication(p) => peer_authentication(&mut found, &p.spec),
        Resource::RequestAuthentication(p) => request_authentication(&mut found, &p.spec),
        Resource::Telemetry(t) => telemetry(&mut found, &t.spec),
        Resource::MeshConfig(mesh) => mesh_config(&mut found, mesh),
        Resource::NetworkPolicy(p) => network_policy(&mut found, p.spec.as_ref()),
        _ => {}
    }
    found
        .0
        .into_iter()
        .map(|finding| finding.about(raw))
        .collect()
}
