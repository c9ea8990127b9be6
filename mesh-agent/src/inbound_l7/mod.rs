//! Whether a pod's inbound side must parse its HTTP requests: some policy of the destination
//! decides or records per request (an AuthorizationPolicy rule naming an HTTP field, CUSTOM,
//! AUDIT or dry run; a RequestAuthentication; an inbound rate limit; the pod's own cap on
//! requests in flight; destination access logs or tracing). When none does, the tunnel carries
//! the pod's streams at L4 and the source's agent reports the destination side of each request
//! (issue 20, L7 once per request). Both agents compute it from their snapshots; the CONNECT's
//! `mesh-l7-reporter` header makes the outcome explicit, so they never disagree.

use std::net::IpAddr;

use crate::authz::{names_http, policies_for};
use crate::facts::Reporter;
use crate::jwt::issuers_for;
use crate::resources::{AuthzAction, PatchContext};
use crate::snapshot::{Snapshot, Workload};

/// The first reason found why a pod's inbound requests must be parsed at the destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum L7Need {
    /// An AuthorizationPolicy (`namespace/name`) with a rule naming paths, methods, hosts,
    /// request principals or `request.*` conditions.
    HttpRule(String),
    /// A CUSTOM, AUDIT or dry-run AuthorizationPolicy: asked, counted or logged per request.
    PerRequestPolicy(String),
    /// A RequestAuthentication (its issuers verify tokens in requests).
    RequestAuthentication,
    /// An EnvoyFilter rate limit on the inbound side.
    InboundRateLimit,
    /// The pod's `mesh.io/max-requests-in-flight` annotation.
    RequestCap,
    /// Destination access logs are on for the pod.
    AccessLog,
    /// Tracing is on (a server span per request).
    Tracing,
}

/// Why `workload` (at `pod_ip`) needs its inbound HTTP requests parsed by its own agent, or
/// `None` when the source's agent may report them and the tunnel carry them at L4.
pub fn needs_l7(snapshot: &Snapshot, workload: &Workload, pod_ip: IpAddr) -> Option<L7Need> {
    for policy in policies_for(snapshot, workload, pod_ip) {
        // The policy's name is written only for the reason returned: this runs at every CONNECT.
        let name = || format!("{}/{}", policy.namespace, policy.name);
        let per_request = matches!(policy.action, AuthzAction::Custom | AuthzAction::Audit);
        if per_request || policy.dry_run {
            return Some(L7Need::PerRequestPolicy(name()));
        }
        if policy.rules.iter().any(names_http) {
            return Some(L7Need::HttpRule(name()));
        }
    }
    if !issuers_for(snapshot, workload, pod_ip).is_empty() {
        return Some(L7Need::RequestAuthentication);
    }
    let root = &snapshot.mesh.root_namespace;
    let (namespace, labels) = (&workload.namespace, &workload.labels);
    let inbound = PatchContext::SidecarInbound;
    if !(snapshot
        .rate_limits
        .for_workload(root, namespace, labels, inbound))
    .is_empty()
    {
        return Some(L7Need::InboundRateLimit);
    }
    if workload.limits.max_requests_in_flight.is_some() {
        return Some(L7Need::RequestCap);
    }
    observed_per_request(snapshot, workload)
}

/// Access logs or spans the destination side would write per request.
fn observed_per_request(snapshot: &Snapshot, workload: &Workload) -> Option<L7Need> {
    let mesh = &snapshot.mesh;
    let logs = workload.telemetry.access_log(Reporter::destination);
    if logs.unwrap_or_else(|| mesh.access_log_enabled()) {
        return Some(L7Need::AccessLog);
    }
    let collector = mesh
        .extension_providers
        .iter()
        .filter_map(|p| p.opentelemetry.as_ref());
    let collector = collector
        .into_iter()
        .any(|c| !c.service.is_empty() && c.port != 0);
    (mesh.enable_tracing && collector).then_some(L7Need::Tracing)
}

#[cfg(test)]
mod tests;
