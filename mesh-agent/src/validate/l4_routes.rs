//! A VirtualService's TCP and TLS rules (Istio's `validateTCPRoute`, `validateTLSRoute`): each
//! needs a route; a TLS rule matches on SNI hosts that its VirtualService's hosts cover; subnets,
//! ports, source labels and gateways well formed.

use std::net::IpAddr;

use super::destinations::{destination, weights};
use super::finding::Findings;
use super::labels::label_map;
use super::names::{gateway_names, ip_subnet, is_subset, wildcard_domain};
use crate::resources::{
    L4Match, RouteDestination, TcpRoute, TlsMatch, TlsRoute, VirtualServiceSpec,
};

/// Problems of the TCP rule at `at`.
pub(crate) fn tcp_route(found: &mut Findings, at: &str, rule: &TcpRoute) {
    for (i, m) in rule.matches.iter().enumerate() {
        let L4Match {
            destination_subnets,
            port,
            source_labels,
            gateways,
            ..
        } = m;
        conditions(
            found,
            &format!("{at}.match[{i}]"),
            (destination_subnets, *port, source_labels, gateways),
        );
    }
    routes(found, at, &rule.route, "TCP");
}

/// Problems of the TLS rule at `at` of `spec`.
pub(crate) fn tls_route(
    found: &mut Findings,
    at: &str,
    rule: &TlsRoute,
    spec: &VirtualServiceSpec,
    at_gateway: bool,
) {
    if rule.matches.is_empty() {
        found.error(format!("{at}.match"), "a TLS rule needs at least one match");
    }
    for (i, m) in rule.matches.iter().enumerate() {
        let at = format!("{at}.match[{i}]");
        sni_hosts(found, &at, m, spec, at_gateway);
        let TlsMatch {
            destination_subnets,
            port,
            source_labels,
            gateways,
            ..
        } = m;
        conditions(
            found,
            &at,
            (destination_subnets, *port, source_labels, gateways),
        );
    }
    routes(found, at, &rule.route, "TLS");
}

fn sni_hosts(
    found: &mut Findings,
    at: &str,
    m: &TlsMatch,
    spec: &VirtualServiceSpec,
    at_gateway: bool,
) {
    if m.sni_hosts.is_empty() {
        found.error(
            format!("{at}.sniHosts"),
            "a TLS match needs at least one SNI host",
        );
    }
    for (i, sni) in m.sni_hosts.iter().enumerate() {
        let field = format!("{at}.sniHosts[{i}]");
        // AUTO_PASSTHROUGH gateways see SNIs such as `outbound_.80_._.reviews.shop.svc.cluster.local`.
        let valid = match at_gateway && sni.starts_with("outbound_") {
            true => Ok(()),
            false => wildcard_domain(sni),
        };
        if let Err(error) = valid {
            match sni.parse::<IpAddr>() {
                Ok(_) => found.warning(field, format!("an IP address ({sni:?}) as SNI goes against the SNI spec; most clients do not send it")),
                Err(_) => found.error(field, error),
            }
            continue;
        }
        if !spec.hosts.iter().any(|host| is_subset(sni, host)) {
            let message = format!(
                "SNI host {sni:?} is not covered by the VirtualService's hosts [{}]",
                spec.hosts.join(", ")
            );
            found.error(field, message);
        }
    }
}

/// Subnets, port, source labels and gateways of an L4 match at `at`.
fn conditions(
    found: &mut Findings,
    at: &str,
    (subnets, port, labels, gateways): (
        &[String],
        Option<u16>,
        &std::collections::BTreeMap<String, String>,
        &[String],
    ),
) {
    for (i, subnet) in subnets.iter().enumerate() {
        found.error_if(format!("{at}.destinationSubnets[{i}]"), ip_subnet(subnet));
    }
    if port == Some(0) {
        found.error(
            format!("{at}.port"),
            "port number 0 must be in the range 1..65535",
        );
    }
    label_map(found, &format!("{at}.sourceLabels"), labels);
    gateway_names(found, &format!("{at}.gateways"), gateways);
}

fn routes(found: &mut Findings, at: &str, route: &[RouteDestination], kind: &str) {
    if route.is_empty() {
        found.error(
            format!("{at}.route"),
            format!("a {kind} rule needs a route"),
        );
    }
    for (i, r) in route.iter().enumerate() {
        destination(
            found,
            &format!("{at}.route[{i}].destination"),
            &r.destination,
        );
    }
    weights(
        found,
        &format!("{at}.route"),
        route.iter().map(|r| r.weight),
    );
}
