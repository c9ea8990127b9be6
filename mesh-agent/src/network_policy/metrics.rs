//! `mesh_network_policy_denied_total{path,namespace,policy}`: connections the agent closed
//! because the destination pod's NetworkPolicies allow them no ingress, by the delivery that
//! skipped the CNI (`same_node` fast path, `tunnel` delivery). Each of them is also counted in
//! Istio's TCP metrics with `response_flags="DENY"`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeniedLabels {
    /// `same_node` or `tunnel`.
    path: &'static str,
    /// The destination pod's namespace.
    namespace: String,
    /// The first policy selecting the pod (`namespace/name`).
    policy: String,
}

/// The NetworkPolicy counter. `Default` gives an unregistered one (tests).
#[derive(Clone, Debug, Default)]
pub struct NetworkPolicyMetrics {
    denied: Family<DeniedLabels, Counter>,
}

impl NetworkPolicyMetrics {
    /// Registers the counter in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "mesh_network_policy_denied",
            "Connections delivered inside a pod by the agent that its ingress NetworkPolicies refused",
            metrics.denied.clone(),
        );
        metrics
    }

    /// Counts one refusal on `path` of a connection to a pod of `namespace`; `policies` are
    /// those selecting the pod (the first names the series).
    pub fn denied(&self, path: &'static str, namespace: &str, policies: &[String]) {
        let labels = DeniedLabels {
            path,
            namespace: namespace.to_owned(),
            policy: policies.first().cloned().unwrap_or_default(),
        };
        self.denied.get_or_create(&labels).inc();
    }
}
