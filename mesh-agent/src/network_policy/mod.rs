//! Kubernetes NetworkPolicy ingress rules, decided by the agent for the connections it delivers
//! inside a pod (same-node fast path, tunnel delivery): those never cross the pod's veth, where
//! the CNI enforces NetworkPolicy. Kubernetes' semantics: a pod no policy selects for Ingress
//! accepts everything; a selected pod accepts what some rule of some selecting policy allows
//! (`from`: podSelector, namespaceSelector, both, ipBlock with `except`; `ports`: number, name,
//! `endPort`; TCP only here). Egress rules stay the CNI's job (deploy/README.md).

mod connection;
mod metrics;
mod peers;
mod selector;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub use connection::decide;
pub use metrics::NetworkPolicyMetrics;
pub use selector::selects;

/// A pod as the rules see it: namespace, labels, and its namespace's labels.
#[derive(Clone, Copy, Debug)]
pub struct PodFacts<'a> {
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub namespace_labels: &'a BTreeMap<String, String>,
}

/// The destination: its pod, the port dialled and the pod's named TCP container ports.
#[derive(Clone, Copy, Debug)]
pub struct Destination<'a> {
    pub pod: PodFacts<'a>,
    pub port: u16,
    pub named_ports: &'a [(String, u16)],
}

/// The source: its address, and its pod when the agent knows which pod it is (the registry's
/// client pod on the same node, the pod holding the tunnel peer's identity).
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub ip: IpAddr,
    pub pod: Option<PodFacts<'a>>,
}

/// The policies' verdict on one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No policy selects the pod for Ingress.
    Unrestricted,
    /// A rule of this policy (`namespace/name`) allows it.
    Allowed(String),
    /// The pod is selected by these policies and none of their rules allows it.
    Denied(Vec<String>),
}

impl Verdict {
    /// Whether the connection goes on.
    pub fn allowed(&self) -> bool {
        !matches!(self, Verdict::Denied(_))
    }

    /// `network_policy_denied[ns/a,ns/b]` for the access log, or `None` when allowed.
    pub fn details(&self) -> Option<String> {
        match self {
            Verdict::Denied(policies) => {
                Some(format!("network_policy_denied[{}]", policies.join(",")))
            }
            _ => None,
        }
    }
}

/// Decides a TCP connection from `source` to `destination` under `policies` (those of the
/// destination's namespace).
pub fn admit<'p>(
    policies: impl IntoIterator<Item = &'p NetworkPolicy>,
    destination: &Destination,
    source: &Source,
) -> Verdict {
    let mut selecting = Vec::new();
    for policy in policies {
        let Some(spec) = policy.spec.as_ref() else {
            continue;
        };
        let default_selector = Default::default();
        let selector = spec.pod_selector.as_ref().unwrap_or(&default_selector);
        if !for_ingress(spec.policy_types.as_deref()) || !selects(selector, destination.pod.labels)
        {
            continue;
        }
        let name = policy_name(policy, destination.pod.namespace);
        let rules = spec.ingress.iter().flatten();
        let allows = rules.into_iter().any(|rule| {
            let ports = rule.ports.as_deref().unwrap_or_default();
            let from = rule.from.as_deref().unwrap_or_default();
            let namespace = destination.pod.namespace;
            ports_allow(ports, destination)
                && (from.is_empty() || from.iter().any(|p| peers::matches(p, namespace, source)))
        });
        if allows {
            return Verdict::Allowed(name);
        }
        selecting.push(name);
    }
    match selecting.is_empty() {
        true => Verdict::Unrestricted,
        false => Verdict::Denied(selecting),
    }
}

/// `policyTypes` absent: Ingress always applies (Egress only when egress rules are written).
fn for_ingress(types: Option<&[String]>) -> bool {
    types.is_none_or(|t| t.is_empty() || t.iter().any(|t| t == "Ingress"))
}

fn policy_name(policy: &NetworkPolicy, namespace: &str) -> String {
    let name = policy.metadata.name.as_deref().unwrap_or_default();
    format!("{namespace}/{name}")
}

/// No ports listed: every port. Otherwise one entry must name the TCP port dialled.
fn ports_allow(ports: &[NetworkPolicyPort], destination: &Destination) -> bool {
    ports.is_empty() || ports.iter().any(|p| port_allows(p, destination))
}

fn port_allows(entry: &NetworkPolicyPort, destination: &Destination) -> bool {
    if entry.protocol.as_deref().is_some_and(|p| p != "TCP") {
        return false;
    }
    let port = destination.port;
    match &entry.port {
        None => true,
        Some(IntOrString::Int(first)) => {
            let last = entry.end_port.unwrap_or(*first);
            (*first..=last).contains(&i32::from(port))
        }
        Some(IntOrString::String(name)) => destination
            .named_ports
            .iter()
            .any(|(n, number)| n == name && *number == port),
    }
}
