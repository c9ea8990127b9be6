//! Table tests of which Gateways select the agent and how their servers become ports.

use std::path::Path;
use std::sync::Arc;

use super::selection::{GatewayLabels, GatewayPlan, PortProtocol};
use crate::snapshot::{build, Snapshot};

fn snapshot(gateways: &str) -> Snapshot {
    let documents = crate::document::parse_documents(Path::new("t.yaml"), gateways).unwrap();
    build(&Arc::new(documents), None).0
}

fn gateway(name: &str, selector: &str, servers: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: Gateway\n\
         metadata: {{name: {name}, namespace: edge}}\nspec:\n  selector: {{{selector}}}\n\
         \x20 servers:\n{servers}---\n"
    )
}

/// A server whose port name is unique (Istio rejects a Gateway repeating one).
fn server(port: u16, protocol: &str, hosts: &str, tls: &str) -> String {
    let host: String = hosts.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("  - port: {{number: {port}, name: p{port}-{host}, protocol: {protocol}}}\n    hosts: {hosts}\n{tls}")
}

#[test]
fn selectors_pick_the_gateways_of_this_agent() {
    let http = server(80, "HTTP", "[\"*\"]", "");
    let yaml = gateway("ingress", "istio: ingressgateway", &http)
        + &gateway(
            "egress",
            "istio: egressgateway",
            &server(81, "HTTP", "[\"*\"]", ""),
        )
        + &gateway("any", "", &server(82, "HTTP", "[\"*\"]", ""));
    let snapshot = snapshot(&yaml);
    let cases: [(&str, &[u16]); 3] = [
        ("istio=ingressgateway", &[80, 82]),
        ("istio=egressgateway", &[81, 82]),
        ("app=edge", &[82]),
    ];
    for (labels, want) in cases {
        let labels: GatewayLabels = labels.parse().unwrap();
        let plan = GatewayPlan::of(&snapshot, &labels);
        let ports: Vec<u16> = plan.ports.keys().copied().collect();
        assert_eq!(ports, want, "{labels:?}");
    }
}

#[test]
fn servers_share_a_port_and_unsupported_ones_are_skipped() {
    let simple = "    tls: {mode: SIMPLE, credentialName: cert}\n";
    let passthrough = "    tls: {mode: PASSTHROUGH}\n";
    let servers = server(80, "HTTP", "[a.example.com]", "")
        + &server(80, "HTTP", "[b.example.com]", "")
        + &server(443, "HTTPS", "[a.example.com]", simple)
        + &server(443, "HTTP", "[c.example.com]", "")
        + &server(8443, "HTTPS", "[d.example.com]", passthrough)
        + &server(9000, "TCP", "[\"*\"]", "");
    let snapshot = snapshot(&gateway("web", "istio: ingressgateway", &servers));
    let plan = GatewayPlan::of(&snapshot, &GatewayLabels::default());
    assert_eq!(plan.ports.keys().copied().collect::<Vec<_>>(), [80, 443]);
    assert_eq!(plan.ports[&80].servers.len(), 2);
    assert_eq!(plan.ports[&80].protocol, PortProtocol::Http);
    let https = &plan.ports[&443];
    assert_eq!(https.protocol, PortProtocol::Https);
    assert_eq!(https.servers[0].credential_name.as_deref(), Some("cert"));
    assert_eq!(https.servers[0].gateway, "edge/web");
    assert_eq!(plan.skipped.len(), 3, "{:?}", plan.skipped);
}
