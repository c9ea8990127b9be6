//! Unprivileged tests of the lab's address families: the addresses pods, Services and nodes get
//! in ipv6 and dual labs, the hosts files and the objects written for the agents.

use super::family::IpFamily;
use super::hosts::{render, HostsOwner};
use super::manifest::{parse_file, Document, Problems};
use super::plan::Plan;
use super::state::{Labels, State};
use super::{alloc, kube_objects};
use std::path::PathBuf;

const INPUT: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {app: a}}\n\
    spec:\n  containers:\n  - {name: c, command: [sleep, '1']}\n---\n\
    apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: a}, ports: [{port: 80}]}\n";

fn lab_state(ip_family: IpFamily, nodes: u8) -> State {
    let mut state = State {
        name: "unit".into(),
        cgroup_root: PathBuf::from("/cg/unit-lab"),
        ip_family,
        ..State::default()
    };
    state.nodes = alloc::nodes(&state, nodes);
    state
}

fn plan(text: &str, state: &State) -> Result<Plan, String> {
    let (mut docs, mut problems) = (Vec::<Document>::new(), Problems::default());
    parse_file("in.yaml", text, &mut docs, &mut problems);
    problems.into_result().map_err(|e| e.to_string())?;
    Plan::build(&docs, state).map_err(|e| e.to_string())
}

/// `INPUT` placed in a lab of `ip_family`.
fn placed(ip_family: IpFamily) -> State {
    let mut state = lab_state(ip_family, 2);
    let planned = plan(INPUT, &state).unwrap();
    alloc::service(&mut state, &planned.services[0]).unwrap();
    alloc::pod(&mut state, &planned.pods[0], &Labels::new()).unwrap();
    state
}

fn strings(ips: &[std::net::IpAddr]) -> Vec<String> {
    ips.iter().map(ToString::to_string).collect()
}

#[test]
fn a_dual_lab_gives_pods_services_and_nodes_both_families() {
    let state = placed(IpFamily::Dual);
    let pod = &state.pods[0];
    assert_eq!(strings(pod.ips()), ["10.244.1.2", "fd00:10:244:1::2"]);
    let web = &state.services[0];
    assert_eq!(strings(web.cluster_ips()), ["10.96.0.10", "fd00:10:96::a"]);
    assert_eq!(
        state.nodes[1].address6.map(|a| a.to_string()).as_deref(),
        Some("fd00:10:250::2")
    );
    let hosts = render(&state, &HostsOwner::Pod(pod));
    for line in [
        "10.244.1.2\ta\n",
        "fd00:10:244:1::2\ta\n",
        "10.96.0.10\tweb.default.svc.cluster.local web.default.svc web.default web\n",
        "fd00:10:96::a\tweb.default.svc.cluster.local web.default.svc web.default web\n",
        "fd00:10:250::2\tnode-2\n",
    ] {
        assert!(hosts.contains(line), "{line:?} missing in {hosts}");
    }
    let docs = kube_objects::documents(&state).unwrap();
    let pod_yaml = &docs["Pod.default.a.yaml"];
    assert!(pod_yaml.contains("- ip: fd00:10:244:1::2"), "{pod_yaml}");
    let service_yaml = &docs["Service.default.web.yaml"];
    assert!(
        service_yaml.contains("ipFamilyPolicy: RequireDualStack"),
        "{service_yaml}"
    );
    assert!(service_yaml.contains("- IPv6"), "{service_yaml}");
}

#[test]
fn an_ipv6_lab_has_no_ipv4_pod_or_service_addresses() {
    let state = placed(IpFamily::Ipv6);
    assert_eq!(strings(state.pods[0].ips()), ["fd00:10:244:1::2"]);
    assert_eq!(strings(state.services[0].cluster_ips()), ["fd00:10:96::a"]);
    let docs = kube_objects::documents(&state).unwrap();
    let service_yaml = &docs["Service.default.web.yaml"];
    assert!(
        service_yaml.contains("clusterIP: fd00:10:96::a"),
        "{service_yaml}"
    );
    assert!(
        service_yaml.contains("ipFamilyPolicy: SingleStack"),
        "{service_yaml}"
    );
    assert!(placed(IpFamily::Ipv4).nodes[0].address6.is_none());
}

#[test]
fn a_cluster_ip_outside_the_labs_families_is_refused() {
    let fixed = |ip: &str| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: db}}\nspec: {{clusterIP: \"{ip}\"}}\n")
    };
    let err = plan(&fixed("10.96.3.3"), &lab_state(IpFamily::Ipv6, 1)).unwrap_err();
    assert!(
        err.contains("spec.clusterIP 10.96.3.3 is not of the lab's ip family ipv6"),
        "{err}"
    );
    let err = plan(&fixed("fd00:99::1"), &lab_state(IpFamily::Dual, 1)).unwrap_err();
    assert!(err.contains("outside the lab's fd00:10:96::/112"), "{err}");
    let mut state = lab_state(IpFamily::Dual, 1);
    let planned = plan(&fixed("fd00:10:96::33"), &state).unwrap();
    let db = alloc::service(&mut state, &planned.services[0]).unwrap();
    assert_eq!(strings(db.cluster_ips()), ["10.96.0.10", "fd00:10:96::33"]);
}
