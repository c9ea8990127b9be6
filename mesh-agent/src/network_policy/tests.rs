//! Table tests of the ingress decision: selection, default deny, peers, ports.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::NetworkPolicy;

use super::{admit, Destination, PodFacts, Source, Verdict};

fn policies(yaml: &str) -> Vec<NetworkPolicy> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("a NetworkPolicy"))
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct Case {
    web: BTreeMap<String, String>,
    shop: BTreeMap<String, String>,
    client: BTreeMap<String, String>,
    other_ns: BTreeMap<String, String>,
    named: Vec<(String, u16)>,
}

impl Case {
    fn new() -> Self {
        Self {
            web: labels(&[("app", "web")]),
            shop: labels(&[("team", "shop")]),
            client: labels(&[("app", "client")]),
            other_ns: labels(&[("team", "ops")]),
            named: vec![("http".to_string(), 8080)],
        }
    }

    /// The verdict on `client` (in `shop`, or in `ops` when `foreign`) at `ip` to web:`port`.
    fn verdict(&self, yaml: &str, port: u16, foreign: bool, ip: &str) -> Verdict {
        let policies = policies(yaml);
        let destination = Destination {
            pod: PodFacts {
                namespace: "shop",
                labels: &self.web,
                namespace_labels: &self.shop,
            },
            port,
            named_ports: &self.named,
        };
        let (namespace, namespace_labels) = match foreign {
            true => ("ops", &self.other_ns),
            false => ("shop", &self.shop),
        };
        let pod = PodFacts {
            namespace,
            labels: &self.client,
            namespace_labels,
        };
        let source = Source {
            ip: ip.parse().expect("an IP"),
            pod: Some(pod),
        };
        admit(&policies, &destination, &source)
    }
}

const HEAD: &str =
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\n";

fn policy(spec: &str) -> String {
    format!("{HEAD}spec:\n{spec}")
}

#[test]
fn a_pod_no_policy_selects_accepts_everything() {
    let other = policy("  podSelector: {matchLabels: {app: db}}\n  policyTypes: [Ingress]\n");
    let egress_only = policy("  podSelector: {}\n  policyTypes: [Egress]\n");
    let case = Case::new();
    for yaml in ["", &other, &egress_only] {
        let verdict = case.verdict(yaml, 80, false, "10.0.0.1");
        assert_eq!(verdict, Verdict::Unrestricted, "{yaml}");
    }
}

#[test]
fn selecting_a_pod_for_ingress_denies_what_no_rule_allows() {
    let case = Case::new();
    let deny_all = policy("  podSelector: {}\n");
    let verdict = case.verdict(&deny_all, 80, false, "10.0.0.1");
    assert_eq!(verdict, Verdict::Denied(vec!["shop/p".into()]));
    assert_eq!(
        verdict.details().as_deref(),
        Some("network_policy_denied[shop/p]")
    );
    let allow_all = policy("  podSelector: {matchLabels: {app: web}}\n  ingress: [{}]\n");
    assert!(case.verdict(&allow_all, 80, true, "10.9.9.9").allowed());
}

#[test]
fn pod_and_namespace_selectors_pick_the_source() {
    let case = Case::new();
    let same_ns_client = policy(
        "  podSelector: {}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: client}}}]\n",
    );
    assert!(case
        .verdict(&same_ns_client, 80, false, "10.0.0.1")
        .allowed());
    assert!(!case
        .verdict(&same_ns_client, 80, true, "10.0.0.1")
        .allowed());
    let ops = policy("  podSelector: {}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: ops}}}]\n");
    assert!(case.verdict(&ops, 80, true, "10.0.0.1").allowed());
    assert!(!case.verdict(&ops, 80, false, "10.0.0.1").allowed());
    let both = policy("  podSelector: {}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: ops}}, podSelector: {matchLabels: {app: other}}}]\n");
    assert!(!case.verdict(&both, 80, true, "10.0.0.1").allowed());
}

#[test]
fn ip_blocks_honour_except() {
    let case = Case::new();
    let block = policy("  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.5.0/24]}}]\n");
    assert!(case.verdict(&block, 80, false, "10.0.1.1").allowed());
    assert!(!case.verdict(&block, 80, false, "10.0.5.1").allowed());
    assert!(!case.verdict(&block, 80, false, "10.1.0.1").allowed());
}

#[test]
fn ports_by_number_range_and_name() {
    let case = Case::new();
    let ports = policy("  podSelector: {}\n  ingress:\n  - ports: [{port: 9000, endPort: 9010}, {port: http}, {protocol: UDP, port: 53}]\n");
    for (port, allowed) in [
        (9000, true),
        (9010, true),
        (9011, false),
        (8080, true),
        (53, false),
        (80, false),
    ] {
        let verdict = case.verdict(&ports, port, false, "10.0.0.1");
        assert_eq!(verdict.allowed(), allowed, "port {port}");
    }
}

#[test]
fn one_allowing_policy_among_several_is_enough() {
    let case = Case::new();
    let deny = policy("  podSelector: {}\n");
    let allow = format!(
        "{deny}---\n{}",
        policy("  podSelector: {}\n  ingress:\n  - ports: [{port: 80}]\n")
            .replace("name: p", "name: q")
    );
    assert_eq!(
        case.verdict(&allow, 80, false, "10.0.0.1"),
        Verdict::Allowed("shop/q".into())
    );
    let denied = case.verdict(&allow, 81, false, "10.0.0.1");
    assert_eq!(
        denied,
        Verdict::Denied(vec!["shop/p".into(), "shop/q".into()])
    );
}
