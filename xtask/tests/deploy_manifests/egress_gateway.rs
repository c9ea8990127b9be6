//! `egress-gateway.yaml`: the node agent of the nodes labelled for the egress gateway is
//! daemonset.yaml's agent, differing only where it must; Service `istio-egressgateway` selects
//! it; the CA and the RBAC count its ServiceAccount; the main DaemonSet keeps off those nodes.

use super::{agent, daemonset, documents, typed};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use mesh_agent::ca::gateway_nodes::DEFAULT_EGRESS_GATEWAY_NODE_LABEL;
use mesh_agent::gateway::{gateway_kind, GatewayLabels, EGRESS_GATEWAY_WORKLOAD};
use serde_json::{json, Value};

fn egress_daemonset() -> DaemonSet {
    let docs = documents("egress-gateway.yaml");
    typed(docs.iter().find(|d| d["kind"] == "DaemonSet").unwrap())
}

/// The egress label's key and value.
fn egress_label() -> (&'static str, &'static str) {
    DEFAULT_EGRESS_GATEWAY_NODE_LABEL.split_once('=').unwrap()
}

/// The agent's `--gateway-labels`, when given.
fn gateway_labels(ds: &DaemonSet) -> Option<String> {
    let spec = ds.spec.clone().unwrap().template.spec.unwrap();
    let args = agent(&spec).args.clone().unwrap();
    let at = args.iter().position(|a| a == "--gateway-labels")?;
    Some(args[at + 1].clone())
}

#[test]
fn the_egress_nodes_run_the_same_agent_playing_istio_s_egress_gateway() {
    let (egress, main) = (egress_daemonset(), daemonset());
    assert_eq!(egress.metadata.namespace.as_deref(), Some("istio-system"));
    let labels: GatewayLabels = gateway_labels(&egress).unwrap().parse().unwrap();
    assert_eq!(gateway_kind(&labels).0, EGRESS_GATEWAY_WORKLOAD);
    assert_eq!(
        gateway_labels(&main),
        None,
        "the ingress gateway by default"
    );
    let (key, value) = egress_label();
    let spec = egress.spec.clone().unwrap().template.spec.unwrap();
    assert_eq!(spec.node_selector.unwrap()[key], value);
    let pod_labels = egress
        .spec
        .clone()
        .unwrap()
        .template
        .metadata
        .unwrap()
        .labels
        .unwrap();
    for (k, v) in &labels.0 {
        assert_eq!(
            pod_labels.get(k),
            Some(v),
            "the pods carry the gateway's labels"
        );
    }
    let avoided =
        serde_json::to_value(main.spec.clone().unwrap().template.spec.unwrap().affinity).unwrap();
    let term = &avoided["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0]["matchExpressions"][0];
    assert_eq!(
        term,
        &json!({"key": key, "operator": "NotIn", "values": [value]})
    );
    assert_eq!(without_differences(&egress), without_differences(&main));
}

/// The DaemonSet's spec with what may differ between the two removed: labels and selector,
/// node selection, the `--gateway-labels` flag.
fn without_differences(ds: &DaemonSet) -> Value {
    let mut spec = serde_json::to_value(ds.spec.clone().unwrap()).unwrap();
    spec["selector"] = Value::Null;
    spec["template"]["metadata"]["labels"] = Value::Null;
    let pod = &mut spec["template"]["spec"];
    pod["nodeSelector"] = Value::Null;
    pod["affinity"] = Value::Null;
    let args = pod["containers"][0]["args"].as_array_mut().unwrap();
    if let Some(at) = args.iter().position(|a| a == "--gateway-labels") {
        args.drain(at..at + 2);
    }
    spec
}

#[test]
fn service_istio_egressgateway_selects_the_egress_agents() {
    let docs = documents("egress-gateway.yaml");
    let service: Service = typed(docs.iter().find(|d| d["kind"] == "Service").unwrap());
    assert_eq!(
        service.metadata.name.as_deref(),
        Some("istio-egressgateway")
    );
    assert_eq!(service.metadata.namespace.as_deref(), Some("istio-system"));
    let selector = service.spec.unwrap().selector.unwrap();
    let pods = egress_daemonset()
        .spec
        .unwrap()
        .template
        .metadata
        .unwrap()
        .labels
        .unwrap();
    assert!(
        selector.iter().all(|(k, v)| pods.get(k) == Some(v)),
        "{selector:?}"
    );
}

#[test]
fn the_ca_and_the_rbac_count_the_egress_agents_service_account() {
    let egress = egress_daemonset();
    let spec = egress.spec.unwrap().template.spec.unwrap();
    let account = format!(
        "{}/{}",
        egress.metadata.namespace.unwrap(),
        spec.service_account_name.unwrap()
    );
    let ca = documents("ca.yaml");
    let deployment = ca.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_array()
            .unwrap()
            .contains(&json!(format!("--node-agent={account}"))),
        "{args}"
    );
    let rbac = documents("rbac.yaml");
    let subjects = |doc: &Value| -> Vec<String> {
        let subjects = match doc["kind"].as_str() {
            Some("ClusterRoleBinding") => typed::<ClusterRoleBinding>(doc).subjects,
            _ => typed::<RoleBinding>(doc).subjects,
        };
        let named = |s: &k8s_openapi::api::rbac::v1::Subject| {
            format!("{}/{}", s.namespace.clone().unwrap_or_default(), s.name)
        };
        subjects.unwrap().iter().map(named).collect()
    };
    let bindings = rbac
        .iter()
        .filter(|d| d["kind"].as_str().unwrap().ends_with("Binding"));
    for binding in bindings {
        assert!(
            subjects(binding).contains(&account),
            "{}",
            binding["metadata"]
        );
    }
    let docs = documents("egress-gateway.yaml");
    let service_account = docs.iter().find(|d| d["kind"] == "ServiceAccount").unwrap();
    assert_eq!(
        format!(
            "{}/{}",
            service_account["metadata"]["namespace"].as_str().unwrap(),
            service_account["metadata"]["name"].as_str().unwrap()
        ),
        account
    );
}
