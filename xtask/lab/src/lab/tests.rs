//! Unprivileged tests of the lab's pure decisions: document splitting and locations, input
//! validation, mesh membership, addresses, hosts files and the Pods written for the agents.

use super::hosts::{render, HostsOwner};
use super::manifest::{parse_file, Document, Problems};
use super::plan::{Placement, Plan};
use super::state::{Labels, State};
use super::{alloc, kube_objects};
use std::path::PathBuf;

fn parse(text: &str) -> (Vec<Document>, Result<(), String>) {
    let (mut docs, mut problems) = (Vec::new(), Problems::default());
    parse_file("in.yaml", text, &mut docs, &mut problems);
    (docs, problems.into_result().map_err(|e| e.to_string()))
}

fn lab_state(nodes: u8) -> State {
    let mut state = State {
        name: "unit".into(),
        cgroup_root: PathBuf::from("/cg/unit-lab"),
        ..State::default()
    };
    state.nodes = alloc::nodes(&state, nodes);
    state
}

fn plan(text: &str, state: &State) -> Result<Plan, String> {
    let (docs, parsed) = parse(text);
    parsed?;
    Plan::build(&docs, state).map_err(|e| e.to_string())
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - {name: c, command: [sleep, '1']}\n";

#[test]
fn documents_are_counted_and_located() {
    let text = format!("---\n# comment\n{POD}---\n\n---\n{POD}");
    let (docs, parsed) = parse(&text);
    parsed.unwrap();
    let places: Vec<_> = docs.iter().map(Document::place).collect();
    assert_eq!(
        places,
        [
            "in.yaml: document 1 (line 3)",
            "in.yaml: document 2 (line 12)"
        ]
    );
}

#[test]
fn syntax_errors_name_file_document_and_line() {
    let (_, parsed) = parse(&format!("{POD}---\nkind: Pod\nmetadata: {{name: [x\n"));
    let err = parsed.unwrap_err();
    assert!(err.starts_with("in.yaml: document 2 (line "), "{err}");
    assert!(err.contains("YAML syntax error"), "{err}");
}

#[test]
fn bad_objects_are_named_in_errors() {
    let state = lab_state(1);
    let unknown = plan(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d, namespace: x}\n",
        &state,
    );
    assert!(unknown
        .unwrap_err()
        .contains("in.yaml: document 1 (line 1): DaemonSet/x/d: unknown kind"));
    let no_cmd = plan(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n",
        &state,
    );
    assert!(no_cmd
        .unwrap_err()
        .contains("Pod/default/p: container \"c\" has no command"));
    let no_name = plan("apiVersion: v1\nkind: Service\nmetadata: {}\n", &state);
    assert!(no_name.unwrap_err().contains("no metadata.name"));
    let far_node = POD.replace("spec:\n", "spec:\n  nodeName: node-9\n");
    assert!(plan(&far_node, &state)
        .unwrap_err()
        .contains("no node \"node-9\""));
}

#[test]
fn duplicates_are_refused_within_input_and_against_the_lab() {
    let mut state = lab_state(1);
    let twice = format!("{POD}---\n{POD}");
    assert!(plan(&twice, &state)
        .unwrap_err()
        .contains("pod default/a already exists"));
    let once = plan(POD, &state).unwrap();
    alloc::pod(&mut state, &once.pods[0], &Labels::new()).unwrap();
    assert!(plan(POD, &state)
        .unwrap_err()
        .contains("document 1 (line 1): Pod/default/a"));
}

#[test]
fn deployments_expand_to_numbered_replicas_round_robin() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: w, command: [sleep]}]\n";
    let mut state = lab_state(2);
    let planned = plan(text, &state).unwrap();
    let names: Vec<_> = planned.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["web-0", "web-1", "web-2"]);
    assert!(matches!(planned.pods[2].placement, Placement::Replica(2)));
    let pods: Vec<_> = planned
        .pods
        .iter()
        .map(|p| alloc::pod(&mut state, p, &Labels::new()).unwrap())
        .collect();
    let nodes: Vec<_> = pods
        .iter()
        .map(|p| (p.node().unwrap().to_string(), p.ip().to_string()))
        .collect();
    assert_eq!(nodes[0], ("node-1".into(), "10.244.1.2".into()));
    assert_eq!(nodes[1], ("node-2".into(), "10.244.2.2".into()));
    assert_eq!(nodes[2], ("node-1".into(), "10.244.1.3".into()));
    assert_eq!(
        pods[0].cgroup(),
        PathBuf::from("/cg/unit-lab/node-1/default.web-0")
    );
    assert_eq!(pods[0].labels().get("app").map(String::as_str), Some("web"));
}

#[test]
fn mesh_membership_follows_pod_and_namespace_labels() {
    let labels = |k: &str, v: &str| Labels::from([(k.to_string(), v.to_string())]);
    let none = Labels::new();
    assert!(alloc::is_meshed(
        &none,
        &labels("istio.io/dataplane-mode", "ambient")
    ));
    assert!(alloc::is_meshed(
        &labels("istio-injection", "enabled"),
        &none
    ));
    assert!(!alloc::is_meshed(
        &none,
        &labels("istio-injection", "disabled")
    ));
    let opt_out = labels("istio.io/dataplane-mode", "none");
    assert!(!alloc::is_meshed(
        &opt_out,
        &labels("istio-injection", "enabled")
    ));
}

#[test]
fn hosts_files_name_services_external_hosts_and_nodes() {
    let text = format!(
        "{POD}---\napiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec: {{ports: [{{port: 80}}]}}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {{name: db, namespace: data}}\nspec: {{clusterIP: 10.96.3.3}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata:\n  name: ext\n  annotations: {{lab.mesh/external-host: api.example.com}}\n\
         spec: {{containers: [{{name: c, command: [x]}}]}}\n"
    );
    let mut state = lab_state(2);
    let planned = plan(&text, &state).unwrap();
    planned
        .services
        .iter()
        .for_each(|s| drop(alloc::service(&mut state, s).unwrap()));
    let pods: Vec<_> = planned
        .pods
        .iter()
        .map(|p| alloc::pod(&mut state, p, &Labels::new()).unwrap())
        .collect();
    let hosts = render(&state, &HostsOwner::Pod(&pods[0]));
    assert!(hosts.contains("10.244.1.2\ta\n"), "{hosts}");
    assert!(
        hosts.contains(
            "10.96.0.10\tweb.default.svc.cluster.local web.default.svc web.default web\n"
        ),
        "{hosts}"
    );
    assert!(
        hosts.contains("10.96.3.3\tdb.data.svc.cluster.local db.data.svc db.data\n"),
        "{hosts}"
    );
    assert!(hosts.contains("10.250.1.1\tapi.example.com\n"), "{hosts}");
    assert!(hosts.contains("10.250.0.2\tnode-2\n"), "{hosts}");
    assert!(!pods[1].meshed() && pods[1].node().is_none());
    let external = render(&state, &HostsOwner::Pod(&pods[1]));
    assert!(
        !external.contains("web.default") && external.contains("node-1"),
        "{external}"
    );
}

#[test]
fn a_pod_s_service_account_reaches_the_agents_config() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      serviceAccountName: web-sa\n      containers: [{name: w, command: [sleep]}]\n";
    let mut state = lab_state(1);
    for text in [text, POD] {
        let planned = plan(text, &state).unwrap();
        alloc::pod(&mut state, &planned.pods[0], &Labels::new()).unwrap();
    }
    let docs = kube_objects::documents(&state).unwrap();
    let web = &docs["Pod.default.web-0.yaml"];
    assert!(web.contains("serviceAccountName: web-sa"), "{web}");
    let bare = &docs["Pod.default.a.yaml"];
    assert!(!bare.contains("serviceAccountName"), "{bare}");
}
