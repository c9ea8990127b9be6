//! Each ServiceEntry rule with a valid and an invalid case.

use super::*;
use crate::validate::finding::table::{lines, spec};

fn found(yaml: &str) -> Vec<String> {
    let mut found = Findings::default();
    service_entry(&mut found, &spec(yaml), "shop");
    lines(&found)
}

#[test]
fn tutorial_service_entries_pass() {
    for good in [
        "hosts: [api.example.com]\nports: [{number: 443, name: https, protocol: TLS}]\nresolution: DNS\nlocation: MESH_EXTERNAL\n",
        "hosts: [db.internal]\naddresses: [10.0.0.0/24]\nports: [{number: 5432, name: tcp, protocol: TCP}]\nresolution: STATIC\n\
         endpoints: [{address: 10.0.0.5, ports: {tcp: 5433}, labels: {app: db}}]\n",
        "hosts: [a.example, b.example]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS\nendpoints: [{address: lb.example}]\n",
        "hosts: ['*.example.com']\nports: [{number: 80, name: http, protocol: HTTP}]\n",
        "hosts: [vm.internal]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: STATIC\nworkloadSelector: {labels: {app: vm}}\n",
    ] {
        assert_eq!(found(good), Vec::<String>::new(), "{good}");
    }
}

#[test]
fn hosts_addresses_and_ports() {
    let yaml = "hosts: ['*', 'a*.example.com', 'b_c.example']\naddresses: [10.0.0.0/33, 10.1.0.0/16]\nresolution: DNS\n\
                ports: [{number: 80, name: http, protocol: HTTP}, {number: 80, name: http, protocol: QUIC}, {number: 81, name: Web_1}]\n\
                endpoints: [{address: 10.0.0.1}]\n";
    assert_eq!(
        found(yaml),
        [
            "spec.hosts[0]: host * is not allowed in a ServiceEntry",
            "spec.hosts[1]: domain name \"a*.example.com\" invalid (label \"a*\" invalid)",
            "spec.hosts[1]: warning: partial wildcard \"a*.example.com\" not allowed",
            "spec.hosts[2]: domain name \"b_c.example\" invalid (label \"b_c\" invalid)",
            "spec.addresses[0]: 10.0.0.0/33 is not a valid CIDR block",
            "spec.addresses: CIDR addresses are allowed only with resolution NONE or STATIC",
            "spec.ports[1].name: port name \"http\" already defined",
            "spec.ports[1].number: port 80 already defined",
            "spec.ports[1].protocol: unsupported protocol: \"QUIC\"",
            "spec.ports[2].name: invalid port name: \"Web_1\"",
            "spec.hosts: several hosts need HTTP or TLS ports (a TCP port cannot tell them apart)",
        ]
    );
}

#[test]
fn endpoints_follow_the_resolution() {
    let port = "ports: [{number: 80, name: http, protocol: HTTP}]\n";
    let cases = [
        (format!("hosts: [a.example]\n{port}endpoints: [{{address: 10.0.0.1}}]\n"), vec!["spec.endpoints: resolution NONE takes no endpoints"]),
        (format!("hosts: [a.example]\n{port}resolution: STATIC\nendpoints: [{{address: db.example, ports: {{grpc: 90}}}}, {{}}]\n"), vec![
            "spec.endpoints[0].address: endpoint address \"db.example\" is not a valid IP address",
            "spec.endpoints[0].ports.grpc: endpoint port \"grpc\" is not a port of the service entry",
            "spec.endpoints[1].address: address is required",
        ]),
        (format!("hosts: ['*.example']\n{port}resolution: DNS\n"), vec![
            "spec.hosts[0]: \"*.example\" is not an FQDN: DNS resolution without endpoints resolves the hosts themselves",
        ]),
        (format!("hosts: [a.example]\n{port}resolution: DNS_ROUND_ROBIN\nendpoints: [{{address: a.b}}, {{address: 'no pe'}}]\n"), vec![
            "spec.endpoints: resolution DNS_ROUND_ROBIN takes at most one endpoint",
            "spec.endpoints[1].address: endpoint address \"no pe\" is not a valid FQDN or an IP address",
        ]),
        (format!("hosts: [a.example]\n{port}resolution: STATIC\nworkloadSelector: {{labels: {{app: '*'}}}}\nendpoints: [{{address: 10.0.0.1}}]\n"), vec![
            "spec.workloadSelector.labels.app: wildcard is not supported in selector: \"app=*\"",
            "spec.workloadSelector: set only one of workloadSelector or endpoints",
        ]),
    ];
    for (yaml, want) in cases {
        assert_eq!(found(&yaml), want, "{yaml}");
    }
}
