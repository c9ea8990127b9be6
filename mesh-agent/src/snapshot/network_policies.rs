//! Kubernetes NetworkPolicies in force, by namespace, and what their decision reads of a pod:
//! its named container ports. The decision itself is `network_policy::admit`.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::networking::v1::NetworkPolicy;

/// NetworkPolicies by namespace, in name order.
pub type NetworkPoliciesByNamespace = HashMap<String, Vec<Arc<NetworkPolicy>>>;

impl super::Snapshot {
    /// The NetworkPolicies of `namespace`.
    pub fn network_policies(&self, namespace: &str) -> &[Arc<NetworkPolicy>] {
        self.network_policies
            .get(namespace)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The named TCP container ports of pod `namespace/name` (NetworkPolicy `ports[].port` may
    /// name one); empty for a pod not in force.
    pub fn named_container_ports(&self, namespace: &str, name: &str) -> Vec<(String, u16)> {
        let Some(spec) = self.pod(namespace, name).and_then(|p| p.spec.as_ref()) else {
            return Vec::new();
        };
        let ports = spec
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten());
        let tcp = ports.filter(|p| p.protocol.as_deref().is_none_or(|p| p == "TCP"));
        tcp.filter_map(|p| Some((p.name.clone()?, u16::try_from(p.container_port).ok()?)))
            .collect()
    }

    pub(super) fn add_network_policy(&mut self, namespace: String, policy: &NetworkPolicy) {
        let policies = self.network_policies.entry(namespace).or_default();
        policies.push(Arc::new(policy.clone()));
    }
}
