//! Who the ingress gateway is: requests entering through it report it as their source, as
//! Istio's `istio-ingressgateway` Deployment would be reported — workload and app
//! `istio-ingressgateway` in the mesh's root namespace (`istio-system`), running as service
//! account `istio-ingressgateway-service-account` (or `--gateway-service-account`), labelled
//! with the agent's gateway labels. Its principal is the identity whose certificate it presents
//! in the tunnel (`tunnel.rs`), which the CA grants only to nodes that run the gateway.

use std::sync::Arc;

use super::GatewayLabels;
use crate::snapshot::{spiffe_id, Snapshot, Workload};

/// The gateway's workload (and app) name: Istio's default ingress gateway Deployment.
pub const GATEWAY_WORKLOAD: &str = "istio-ingressgateway";
/// The service account Istio's ingress gateway runs as.
pub const GATEWAY_SERVICE_ACCOUNT: &str = "istio-ingressgateway-service-account";

/// `--gateway-service-account`: the ServiceAccount (`namespace/name`) the gateway runs as,
/// as Istio's gateway Deployment's `serviceAccountName` would say.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GatewayServiceAccount {
    pub namespace: String,
    pub name: String,
}

impl std::str::FromStr for GatewayServiceAccount {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(Self {
                    namespace: ns.to_owned(),
                    name: name.to_owned(),
                })
            }
            _ => Err(format!("`{text}` is not namespace/serviceAccount")),
        }
    }
}

/// The gateway as a workload under the configuration `snapshot`: its principal in the mesh's
/// trust domain, its Telemetry settings those of its namespace (`account`'s, else the root
/// namespace) that select `labels`.
pub fn gateway_workload(
    snapshot: &Snapshot,
    labels: &GatewayLabels,
    account: Option<&GatewayServiceAccount>,
) -> Arc<Workload> {
    let (namespace, service_account) = match account {
        Some(account) => (account.namespace.clone(), account.name.as_str()),
        None => (
            snapshot.mesh.root_namespace.clone(),
            GATEWAY_SERVICE_ACCOUNT,
        ),
    };
    let mut pod_labels = labels.0.clone();
    pod_labels
        .entry("app".into())
        .or_insert_with(|| GATEWAY_WORKLOAD.into());
    let principal = spiffe_id(
        &snapshot.mesh.trust_domain,
        &namespace,
        Some(service_account),
    );
    Arc::new(Workload {
        name: GATEWAY_WORKLOAD.into(),
        pod_name: GATEWAY_WORKLOAD.into(),
        app: Some(GATEWAY_WORKLOAD.into()),
        version: None,
        service_account: Some(service_account.into()),
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
        let workload = gateway_workload(&Snapshot::default(), &GatewayLabels::default(), None);
        assert_eq!(workload.name, "istio-ingressgateway");
        assert_eq!(workload.namespace, "istio-system");
        assert_eq!(
            workload.principal.as_deref(),
            Some("spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account")
        );
        assert_eq!(workload.labels["istio"], "ingressgateway");
        assert_eq!(workload.labels["app"], "istio-ingressgateway");
    }

    #[test]
    fn a_configured_service_account_is_the_gateway_s_identity() {
        let account: GatewayServiceAccount = "edge/ingress".parse().unwrap();
        let workload = gateway_workload(
            &Snapshot::default(),
            &GatewayLabels::default(),
            Some(&account),
        );
        assert_eq!(workload.namespace, "edge");
        assert_eq!(
            workload.principal.as_deref(),
            Some("spiffe://cluster.local/ns/edge/sa/ingress")
        );
        let err = "ingress".parse::<GatewayServiceAccount>().unwrap_err();
        assert!(
            err.contains("`ingress` is not namespace/serviceAccount"),
            "{err}"
        );
    }
}
