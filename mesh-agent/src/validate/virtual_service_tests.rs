//! Each VirtualService rule (hosts, gateways, rules, TCP and TLS) with a valid and an invalid case.

use super::*;
use crate::validate::finding::table::{lines, spec};

fn found(yaml: &str) -> Vec<String> {
    let vs: VirtualServiceSpec = spec(yaml);
    let mut found = Findings::default();
    virtual_service(&mut found, &vs, "shop");
    lines(&found)
}

const ROUTE: &str = "http: [{route: [{destination: {host: reviews}}]}]\n";

#[test]
fn tutorial_virtual_services_pass() {
    let good = [
        format!("hosts: [reviews, '*.shop.example', 10.0.0.1]\n{ROUTE}"),
        format!("hosts: ['*']\ngateways: [shop/edge, edge]\n{ROUTE}"),
        format!("hosts: []\n{ROUTE}"),
        "hosts: [db.shop.example]\ntcp: [{match: [{port: 5432, destinationSubnets: [10.0.0.0/8]}], route: [{destination: {host: db}}]}]\n".into(),
        "hosts: ['*.shop.example']\ntls: [{match: [{sniHosts: [a.shop.example]}], route: [{destination: {host: a}}]}]\n".into(),
        "hosts: [a.example]\ngateways: [edge]\nhttp: [{match: [{headers: {'@request.auth.claims.group': {exact: x}}}], route: [{destination: {host: a}}]}]\nexportTo: [.]\n".into(),
    ];
    for yaml in good {
        assert_eq!(found(&yaml), Vec::<String>::new(), "{yaml}");
    }
}

#[test]
fn hosts_are_domains_and_star_stays_at_gateways() {
    let cases = [
        (format!("hosts: ['*']\n{ROUTE}"), vec!["spec.hosts[0]: host * is only allowed for VirtualServices bound to gateways (not the mesh)"]),
        (format!("hosts: ['*']\ngateways: [edge, mesh]\n{ROUTE}"), vec!["spec.hosts[0]: host * is only allowed for VirtualServices bound to gateways (not the mesh)"]),
        (format!("hosts: [a_b.example]\n{ROUTE}"), vec!["spec.hosts[0]: domain name \"a_b.example\" invalid (label \"a_b\" invalid)"]),
        (format!("hosts: ['*.example.com', a.example.com]\n{ROUTE}"), vec!["spec.hosts[0]: duplicate hosts in virtual service: *.example.com & a.example.com"]),
        ("hosts: [a]\n".into(), vec!["spec: http, tcp or tls must be provided"]),
    ];
    for (yaml, want) in cases {
        assert_eq!(found(&yaml), want, "{yaml}");
    }
}

#[test]
fn gateways_delegates_and_claim_routes() {
    let cases = [
        (format!("hosts: [a]\ngateways: [shop/, Shop_1/edge, edge.shop]\n{ROUTE}"), vec![
            "spec.gateways[0]: config namespace and gateway name cannot be empty",
            "spec.gateways[1]: invalid value for namespace: \"Shop_1\"",
            "spec.gateways[2]: warning: legacy gateway name \"edge.shop\"; prefer namespace/name: \"shop/edge\"",
        ]),
        (format!("gateways: [edge]\ntcp: [{{route: [{{destination: {{host: a}}}}]}}]\n{ROUTE}"), vec![
            "spec.gateways: a delegate VirtualService (no hosts) cannot set gateways",
            "spec.tcp: a delegate VirtualService (no hosts) cannot set tcp",
        ]),
        ("hosts: [a]\nhttp: [{match: [{headers: {'@request.auth.claims.sub': {exact: x}}}], route: [{destination: {host: a}}]}]\n".into(), vec![
            "spec.http[0].match[0].headers.@request.auth.claims.sub: JWT claim based routing is only supported at gateways",
        ]),
    ];
    for (yaml, want) in cases {
        assert_eq!(found(&yaml), want, "{yaml}");
    }
}

#[test]
fn tcp_and_tls_rules() {
    let cases = [
        ("hosts: [a]\ntcp: [{match: [{port: 0, destinationSubnets: [10.0.0.0/40]}]}]\n", vec![
            "spec.tcp[0].match[0].destinationSubnets[0]: 10.0.0.0/40 is not a valid CIDR block",
            "spec.tcp[0].match[0].port: port number 0 must be in the range 1..65535",
            "spec.tcp[0].route: a TCP rule needs a route",
        ]),
        ("hosts: [a.example]\ntls: [{route: [{destination: {host: a}}]}]\n", vec!["spec.tls[0].match: a TLS rule needs at least one match"]),
        ("hosts: [a.example]\ntls: [{match: [{sniHosts: [b.example, 10.0.0.1]}, {}], route: [{destination: {host: a}}]}]\n", vec![
            "spec.tls[0].match[0].sniHosts[0]: SNI host \"b.example\" is not covered by the VirtualService's hosts [a.example]",
            "spec.tls[0].match[0].sniHosts[1]: warning: an IP address (\"10.0.0.1\") as SNI goes against the SNI spec; most clients do not send it",
            "spec.tls[0].match[1].sniHosts: a TLS match needs at least one SNI host",
        ]),
    ];
    for (yaml, want) in cases {
        assert_eq!(found(yaml), want, "{yaml}");
    }
}
