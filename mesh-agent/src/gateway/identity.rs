//! Who the gateway is: requests entering through it report it as their source, as Istio's
//! gateway Deployment would be reported — the ingress gateway as workload and app
//! `istio-ingressgateway` running as service account `istio-ingressgateway-service-account`,
//! the egress gateway (gateway labels `istio: egressgateway`, as Istio's egress gateway's pods
//! carry) as `istio-egressgateway` with `istio-egressgateway-service-account` — in the mesh's
//! root namespace (`istio-system`; `--gateway-service-account` names another account), labelled
//! with the agent's gateway labels. Its principal is the identity whose certificate it presents
//! in the tunnel (`tunnel.rs`), which the CA grants only to nodes labelled for that gateway.

use std::sync::Arc;

use super::GatewayLabels;
use crate::snapshot::{spiffe_id, Snapshot, Workload};

/// The gateway's workload (and app) name: Istio's default ingress gateway Deployment.
pub const GATEWAY_WORKLOAD: &str = "istio-ingressgateway";
/// The service account Istio's ingress gateway runs as.
pub const GATEWAY_SERVICE_ACCOUNT: &str = "istio-ingressgateway-service-account";
/// Istio's egress gateway Deployment.
pub const EGRESS_GATEWAY_WORKLOAD: &str = "istio-egressgateway";
/// The service account Istio's egress gateway runs as.
pub const EGRESS_GATEWAY_SERVICE_ACCOUNT: &str = "istio-egressgateway-service-account";

/// Which of Istio's gateways the agent's gateway labels describe: the egress gateway when they
/// say `istio: egressgateway` (or `app: istio-egressgateway`), else the ingress gateway. Its
/// workload name and default service account.
pub fn gateway_kind(labels: &GatewayLabels) -> (&'static str, &'static str) {
    let says = |key: &str, value: &str| labels.0.get(key).is_some_and(|v| v == value);
    if says("istio", "egressgateway") || says("app", EGRESS_GATEWAY_WORKLOAD) {
        (EGRESS_GATEWAY_WORKLOAD, EGRESS_GATEWAY_SERVICE_ACCOUNT)
    } else {
        (GATEWAY_WORKLOAD, GATEWAY_SERVICE_ACCOUNT)
    }
}

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
    let (workload, default_account) = gateway_kind(labels);
    let (namespace, service_account) = match account {
        Some(account) => (account.namespace.clone(), account.name.as_str()),
        None => (snapshot.mesh.root_namespace.clone(), default_account),
    };
    let mut pod_labels = labels.0.clone();
    pod_labels
        .entry("app".into())
        .or_insert_with(|| workload.into());
    let principal = spiffe_id(
        &snapshot.mesh.trust_domain,
        &namespace,
        Some(service_account),
    );
    Arc::new(Workload {
        name: workload.into(),
        pod_name: workload.into(),
        app: Some(workload.into()),
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
    fn the_egress_gateway_is_istio_s_egress_gateway_with_its_own_identity() {
        let labels: GatewayLabels = "istio=egressgateway".parse().unwrap();
        let workload = gateway_workload(&Snapshot::default(), &labels, None);
        assert_eq!(workload.name, "istio-egressgateway");
        assert_eq!(workload.app.as_deref(), Some("istio-egressgateway"));
        assert_eq!(workload.labels["app"], "istio-egressgateway");
        assert_eq!(
            workload.service_account.as_deref(),
            Some("istio-egressgateway-service-account")
        );
        assert_eq!(
            workload.principal.as_deref(),
            Some("spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account")
        );
        let account: GatewayServiceAccount = "edge/egress".parse().unwrap();
        let workload = gateway_workload(&Snapshot::default(), &labels, Some(&account));
        assert_eq!(workload.name, "istio-egressgateway");
        assert_eq!(
            workload.principal.as_deref(),
            Some("spiffe://cluster.local/ns/edge/sa/egress")
        );
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
