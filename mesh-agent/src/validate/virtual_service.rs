//! A VirtualService as Istio's `ValidateVirtualService` reads it: hosts (domains with a leading
//! wildcard, IP addresses; `*` alone only at gateways; no two overlapping), gateway names, at
//! least one rule; a delegate (no hosts) without gateways, TCP or TLS rules; JWT claim routes
//! only at gateways; each HTTP rule ([`super::http_route`]), TCP and TLS rule ([`super::l4_routes`]).

use std::net::IpAddr;

use super::export_to::export_to;
use super::finding::Findings;
use super::http_match::CLAIM_ROUTE;
use super::http_route::http_route;
use super::l4_routes::{tcp_route, tls_route};
use super::names::{gateway_names, is_subset, wildcard_domain};
use crate::resources::VirtualServiceSpec;

/// The reserved gateway name for the mesh's own sidecars.
const MESH: &str = "mesh";

/// Problems of the VirtualService `spec` in `namespace`.
pub(crate) fn virtual_service(found: &mut Findings, spec: &VirtualServiceSpec, namespace: &str) {
    let delegate = spec.hosts.is_empty();
    if delegate {
        for (set, name) in [
            (!spec.gateways.is_empty(), "gateways"),
            (!spec.tls.is_empty(), "tls"),
            (!spec.tcp.is_empty(), "tcp"),
        ] {
            if set {
                found.error(
                    format!("spec.{name}"),
                    format!("a delegate VirtualService (no hosts) cannot set {name}"),
                );
            }
        }
    }
    gateway_names(found, "spec.gateways", &spec.gateways);
    let at_gateway = !spec.gateways.is_empty() && !spec.gateways.iter().any(|g| g == MESH);
    hosts(found, spec, at_gateway);
    if spec.http.is_empty() && spec.tcp.is_empty() && spec.tls.is_empty() {
        found.error("spec", "http, tcp or tls must be provided");
    }
    for (i, rule) in spec.http.iter().enumerate() {
        let at = format!("spec.http[{i}]");
        if !at_gateway {
            claim_routes(found, &at, rule);
        }
        http_route(found, &at, rule, delegate);
    }
    for (i, rule) in spec.tls.iter().enumerate() {
        tls_route(found, &format!("spec.tls[{i}]"), rule, spec, at_gateway);
    }
    for (i, rule) in spec.tcp.iter().enumerate() {
        tcp_route(found, &format!("spec.tcp[{i}]"), rule);
    }
    export_to(found, "spec.exportTo", namespace, &spec.export_to, false);
}

fn hosts(found: &mut Findings, spec: &VirtualServiceSpec, at_gateway: bool) {
    let mut all_valid = true;
    for (i, host) in spec.hosts.iter().enumerate() {
        let field = format!("spec.hosts[{i}]");
        if let Err(error) = wildcard_domain(host) {
            if host.parse::<IpAddr>().is_err() {
                found.error(field, error);
                all_valid = false;
            }
        } else if !at_gateway && host == "*" {
            found.error(
                field,
                "host * is only allowed for VirtualServices bound to gateways (not the mesh)",
            );
            all_valid = false;
        }
    }
    if !all_valid {
        return;
    }
    for (i, a) in spec.hosts.iter().enumerate() {
        for b in &spec.hosts[i + 1..] {
            if overlap(a, b) {
                found.error(
                    format!("spec.hosts[{i}]"),
                    format!("duplicate hosts in virtual service: {a} & {b}"),
                );
            }
        }
    }
}

fn overlap(a: &str, b: &str) -> bool {
    is_subset(a, b) || is_subset(b, a)
}

/// Header matches on JWT claims, which only gateways evaluate.
fn claim_routes(found: &mut Findings, at: &str, rule: &crate::resources::HttpRoute) {
    for (i, m) in rule.matches.iter().enumerate() {
        let names = m.headers.keys().map(|k| ("headers", k));
        for (list, name) in names.chain(m.without_headers.keys().map(|k| ("withoutHeaders", k))) {
            if name.starts_with(CLAIM_ROUTE) {
                let field = format!("{at}.match[{i}].{list}.{name}");
                found.error(
                    field,
                    "JWT claim based routing is only supported at gateways",
                );
            }
        }
    }
}

#[cfg(test)]
#[path = "virtual_service_tests.rs"]
mod tests;
