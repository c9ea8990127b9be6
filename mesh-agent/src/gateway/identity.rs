//! Who the ingress gateway is in telemetry: requests entering through it report it as their
//! source, as Istio's `istio-ingressgateway` Deployment would be reported — workload and app
//! `istio-ingressgateway` in the mesh's root namespace (`istio-system`), running as service
//! account `istio-ingressgateway-service-account`, labelled with the agent's gateway labels.

use std::sync::Arc;

use super::GatewayLabels;
use crate::snapshot::{spiffe_id, Snapshot, Workload};

/// The gateway's workload (and app) name: Istio's default ingress gateway Deployment.
pub const GATEWAY_WORKLOAD: &str = "istio-ingressgateway";
/// The service account Istio's ingress gateway runs as.
pub const GATEWAY_SERVICE_ACCOUNT: &str = "istio-ingressgateway-service-account";

/// The gateway as a workload under the configuration `snapshot`: its principal in the mesh's
/// trust domain, its Telemetry settings those of the root namespace that select `labels`.
pub fn gateway_workload(snapshot: &Snapshot, labels: &GatewayLabels) -> Arc<Workload> {
    let namespace = snapshot.mesh.root_namespace.clone();
    let mut pod_labels = labels.0.clone();
    pod_labels
        .entry("app".into())
        .or_insert_with(|| GATEWAY_WORKLOAD.into());
    let principal = spiffe_id(
        &snapshot.mesh.trust_domain,
        &namespace,
        Some(GATEWAY_SERVICE_ACCOUNT),
    );
    Arc::new(Workload {
        name: GATEWAY_WORKLOAD.into(),
        pod_name: GATEWAY_WORKLOAD.into(),
        app: Some(GATEWAY_WORKLOAD.into()),
        version: None,
        service_account: Some(GATEWAY_SERVICE_ACCOUNT.into()),
        telemetry: snapshot.telemetry_for(&namespace, &pod_labels),
        limits: Default::default(),
        labels: Arc::new(pod_labels),
        principal: Some(principal),
        meshed: false,
        namespace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_is_istio_s_ingress_gateway_in_the_root_namespace() {
        let workload = gateway_workload(&Snapshot::default(), &GatewayLabels::default());
        assert_eq!(workload.name, "istio-ingressgateway");
        assert_eq!(workload.namespace, "istio-system");
        assert_eq!(
            workload.principal.as_deref(),
            Some("spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account")
        );
        assert_eq!(workload.labels["istio"], "ingressgateway");
        assert_eq!(workload.labels["app"], "istio-ingressgateway");
    }
}
