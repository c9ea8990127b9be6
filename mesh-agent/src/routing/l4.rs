//! VirtualService `tcp` and `tls` rules for one connection, as a pure decision: TLS rules when
//! the client sent an SNI (matched on `sniHosts`), then TCP rules; each on `port`,
//! `destinationSubnets`, `sourceLabels`, `sourceNamespace` and `gateways` (the mesh's side);
//! the first rule with a holding match (or none written) gives its weighted destinations.

use std::net::IpAddr;

use ipnet::IpNet;

use super::weights;
use crate::chance::Chance;
use crate::resources::{Destination, L4Match, RouteDestination, TlsMatch};
use crate::snapshot::{Labels, RouteTable, MESH_GATEWAY};

/// What a TCP or TLS rule is matched on.
#[derive(Clone, Copy, Debug, Default)]
pub struct L4Input<'a> {
    /// The port and address the client dialled.
    pub port: u16,
    pub destination: Option<IpAddr>,
    /// The ClientHello's server name, when the connection is TLS and sent one.
    pub sni: Option<&'a str>,
    pub source_labels: Option<&'a Labels>,
    pub source_namespace: Option<&'a str>,
}

/// The destination the rules of `table` send the connection to: `None` when no rule matches
/// (the addressed service itself then).
pub fn decide<'t>(
    table: &'t RouteTable,
    input: &L4Input,
    chance: &Chance,
) -> Option<&'t Destination> {
    let tls = input.sni.and_then(|_| {
        let mut rules = table.tls.iter();
        rules.find(|r| r.matches.is_empty() || r.matches.iter().any(|m| tls_holds(m, input)))
    });
    let route = match tls {
        Some(rule) => &rule.route,
        None => {
            let mut rules = table.tcp.iter();
            &rules
                .find(|r| r.matches.is_empty() || r.matches.iter().any(|m| tcp_holds(m, input)))?
                .route
        }
    };
    pick(route, chance)
}

/// One of `route`'s destinations, drawn by weight.
fn pick<'r>(route: &'r [RouteDestination], chance: &Chance) -> Option<&'r Destination> {
    let draw = chance.below(weights::total_weight(route));
    weights::pick(route, draw).map(|i| &route[i].destination)
}

fn tcp_holds(m: &L4Match, input: &L4Input) -> bool {
    common(
        m.port,
        &m.destination_subnets,
        &m.source_labels,
        m.source_namespace.as_deref(),
        &m.gateways,
        input,
    )
}

fn tls_holds(m: &TlsMatch, input: &L4Input) -> bool {
    let sni = input.sni.unwrap_or_default();
    let sni_ok = m.sni_hosts.is_empty() || m.sni_hosts.iter().any(|h| host_matches(h, sni));
    sni_ok
        && common(
            m.port,
            &m.destination_subnets,
            &m.source_labels,
            m.source_namespace.as_deref(),
            &m.gateways,
            input,
        )
}

fn common(
    port: Option<u16>,
    subnets: &[String],
    labels: &Labels,
    namespace: Option<&str>,
    gateways: &[String],
    input: &L4Input,
) -> bool {
    let port_ok = port.is_none_or(|p| p == input.port);
    let subnet_ok = subnets.is_empty()
        || input
            .destination
            .is_some_and(|ip| subnets.iter().any(|s| in_subnet(s, ip)));
    let labels_ok = labels.is_empty()
        || input
            .source_labels
            .is_some_and(|have| labels.iter().all(|(k, v)| have.get(k) == Some(v)));
    let namespace_ok = namespace.is_none_or(|ns| input.source_namespace == Some(ns));
    let mesh_ok = gateways.is_empty() || gateways.iter().any(|g| g == MESH_GATEWAY);
    port_ok && subnet_ok && labels_ok && namespace_ok && mesh_ok
}

/// `subnet` as written (`10.0.0.0/8` or one address) holds `ip`.
fn in_subnet(subnet: &str, ip: IpAddr) -> bool {
    match subnet.parse::<IpNet>() {
        Ok(net) => net.contains(&ip),
        Err(_) => subnet.parse::<IpAddr>() == Ok(ip),
    }
}

/// An `sniHosts` entry (`*`, `*.example.com` or a name) covers `sni`.
pub fn host_matches(pattern: &str, sni: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some("") => true,
        Some(suffix) => {
            sni.len() > suffix.len()
                && sni
                    .to_ascii_lowercase()
                    .ends_with(&suffix.to_ascii_lowercase())
        }
        None => pattern.eq_ignore_ascii_case(sni),
    }
}

#[cfg(test)]
#[path = "l4_tests.rs"]
mod tests;
