//! What the API server rejects in a NetworkPolicy, for documents read from files: `ipBlock`
//! CIDRs (and `except` within them), a peer mixing `ipBlock` with selectors, `protocol`,
//! `endPort` (a numbered `port` at most it), `policyTypes`.

use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::finding::Findings;

/// Checks `spec` of a NetworkPolicy.
pub(crate) fn network_policy(found: &mut Findings, spec: Option<&NetworkPolicySpec>) {
    let Some(spec) = spec else { return };
    for (i, kind) in spec.policy_types.iter().flatten().enumerate() {
        if kind != "Ingress" && kind != "Egress" {
            found.error(
                format!("spec.policyTypes[{i}]"),
                format!("{kind:?} is not Ingress or Egress"),
            );
        }
    }
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        for (j, peer) in rule.from.iter().flatten().enumerate() {
            self::peer(found, peer, &format!("spec.ingress[{i}].from[{j}]"));
        }
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            self::port(found, port, &format!("spec.ingress[{i}].ports[{j}]"));
        }
    }
}

fn peer(found: &mut Findings, peer: &NetworkPolicyPeer, at: &str) {
    let Some(block) = &peer.ip_block else { return };
    if peer.pod_selector.is_some() || peer.namespace_selector.is_some() {
        found.error(
            at,
            "ipBlock cannot be combined with podSelector or namespaceSelector",
        );
    }
    let Ok(cidr) = block.cidr.parse::<IpNet>() else {
        found.error(
            format!("{at}.ipBlock.cidr"),
            format!("{:?} is not a CIDR", block.cidr),
        );
        return;
    };
    for (k, except) in block.except.iter().flatten().enumerate() {
        let field = format!("{at}.ipBlock.except[{k}]");
        match except.parse::<IpNet>() {
            Ok(net) if cidr.contains(&net) && net != cidr => {}
            Ok(_) => found.error(field, format!("{except:?} is not strictly within {cidr}")),
            Err(_) => found.error(field, format!("{except:?} is not a CIDR")),
        }
    }
}

fn port(found: &mut Findings, port: &NetworkPolicyPort, at: &str) {
    if let Some(protocol) = &port.protocol {
        if !["TCP", "UDP", "SCTP"].contains(&protocol.as_str()) {
            found.error(
                format!("{at}.protocol"),
                format!("{protocol:?} is not TCP, UDP or SCTP"),
            );
        }
    }
    let Some(end) = port.end_port else { return };
    match &port.port {
        Some(IntOrString::Int(first)) if end >= *first => {}
        Some(IntOrString::Int(first)) => {
            found.error(
                format!("{at}.endPort"),
                format!("{end} is below port {first}"),
            );
        }
        _ => found.error(format!("{at}.endPort"), "endPort needs a numbered port"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(spec: &str) -> Vec<(String, String)> {
        let spec: NetworkPolicySpec = serde_yaml::from_str(spec).expect("a spec");
        let mut found = Findings::default();
        network_policy(&mut found, Some(&spec));
        found.0.into_iter().map(|f| (f.field, f.message)).collect()
    }

    #[test]
    fn a_valid_policy_has_no_problems() {
        let spec = "policyTypes: [Ingress]\ningress:\n- from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}]\n  ports: [{port: 80, endPort: 90}, {port: http}]\n";
        assert_eq!(problems(spec), []);
    }

    #[test]
    fn each_mistake_names_its_field() {
        let spec = "policyTypes: [ingress]\ningress:\n- from: [{ipBlock: {cidr: 10.0.0/16}}, {ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}, podSelector: {}}]\n  ports: [{protocol: tcp}, {port: 90, endPort: 80}, {port: http, endPort: 90}]\n";
        let fields: Vec<String> = problems(spec).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "spec.policyTypes[0]",
                "spec.ingress[0].from[0].ipBlock.cidr",
                "spec.ingress[0].from[1]",
                "spec.ingress[0].from[1].ipBlock.except[0]",
                "spec.ingress[0].ports[0].protocol",
                "spec.ingress[0].ports[1].endPort",
                "spec.ingress[0].ports[2].endPort",
            ]
        );
    }
}
