//! Unprivileged tests of the lab's names: the DNS zone (Services, pods, external hosts, nodes,
//! runtime names winning), pods' resolv.conf, node labels (flag or Node document) and the objects
//! written for a labelled node.

use super::dns::{resolv_conf, zone};
use super::gateway::{label_nodes, NodeLabel};
use super::hosts::{render, HostsOwner};
use super::manifest::{parse_file, Document, Problems};
use super::plan::Plan;
use super::state::{Labels, State};
use super::{alloc, kube_objects};
use std::path::PathBuf;

const INPUT: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: shop}\n\
    spec:\n  containers:\n  - {name: c, command: [sleep, '1']}\n---\n\
    apiVersion: v1\nkind: Pod\nmetadata: {name: x, annotations: {lab.mesh/external-host: api.example.net}}\n\
    spec:\n  containers:\n  - {name: c, command: [sleep, '1']}\n---\n\
    apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [{port: 80}]}\n";

fn placed() -> State {
    let mut state = State {
        name: "unit".into(),
        cgroup_root: PathBuf::from("/cg/unit-lab"),
        ..State::default()
    };
    state.nodes = alloc::nodes(&state, 2);
    let (mut docs, mut problems) = (Vec::<Document>::new(), Problems::default());
    parse_file("in.yaml", INPUT, &mut docs, &mut problems);
    let plan = Plan::build(&docs, &state).unwrap();
    alloc::service(&mut state, &plan.services[0]).unwrap();
    for pod in &plan.pods {
        alloc::pod(&mut state, pod, &Labels::new()).unwrap();
    }
    state
}

#[test]
fn the_zone_names_services_pods_external_hosts_and_nodes() {
    let text = zone(&placed());
    for line in [
        "10.96.0.10\tweb.shop.svc.cluster.local\n",
        "10.244.1.2\t10-244-1-2.shop.pod.cluster.local\n",
        "10.250.1.1\tapi.example.net\n",
        "10.250.0.2\tnode-2\n",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
}

#[test]
fn a_runtime_name_wins_in_the_zone_and_leaves_the_hosts_files() {
    let mut state = placed();
    let moved = vec!["10.250.1.9".parse().unwrap()];
    state.dns_names.insert("api.example.net".into(), moved);
    let text = zone(&state);
    assert!(text.contains("10.250.1.9\tapi.example.net\n"), "{text}");
    assert!(!text.contains("10.250.1.1\tapi.example.net"), "{text}");
    let hosts = render(&state, &HostsOwner::Pod(&state.pods[0]));
    assert!(
        !hosts.contains("api.example.net"),
        "asked in the DNS:\n{hosts}"
    );
}

#[test]
fn pods_resolve_through_the_lab_dns_with_their_namespace_searched_first() {
    let conf = resolv_conf(Some("shop"));
    assert!(conf.starts_with("nameserver 10.250.255.253\n"), "{conf}");
    assert!(conf.contains("search shop.svc.cluster.local svc.cluster.local cluster.local\n"));
}

#[test]
fn a_labelled_node_s_gateway_is_a_host_network_pod_at_the_node_address() {
    let mut state = placed();
    let label: NodeLabel = "node-2:istio=egressgateway".parse().unwrap();
    label_nodes(&mut state.nodes, &[label]).unwrap();
    let docs = kube_objects::documents(&state).unwrap();
    let pod = &docs["Pod.istio-system.gateway-node-2.yaml"];
    for field in [
        "hostNetwork: true",
        "istio: egressgateway",
        "podIP: 10.250.0.2",
        "nodeName: node-2",
    ] {
        assert!(pod.contains(field), "{field} in:\n{pod}");
    }
    assert!(!docs.contains_key("Pod.istio-system.gateway-node-1.yaml"));
}

#[test]
fn a_node_document_labels_its_node_as_the_flag_does() {
    let mut state = placed();
    let text =
        "apiVersion: v1\nkind: Node\nmetadata: {name: node-2, labels: {istio: egressgateway}}\n";
    let (mut docs, mut problems) = (Vec::<Document>::new(), Problems::default());
    parse_file("nodes.yaml", text, &mut docs, &mut problems);
    let plan = Plan::build(&docs, &state).unwrap();
    assert_eq!(
        plan.node_labels,
        ["node-2:istio=egressgateway".parse().unwrap()]
    );
    label_nodes(&mut state.nodes, &plan.node_labels).unwrap();
    assert_eq!(state.nodes[1].labels()["istio"], "egressgateway");
}
