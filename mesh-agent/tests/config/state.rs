//! The configuration in force, as the data path reads it: Services and Pods compiled into
//! ClusterIP:port → cluster endpoints, endpoint → service for inbound telemetry, pod IP →
//! workload; round robin that survives a reload; what a reload reports.

use std::net::SocketAddr;

use mesh_agent::document::SourceUpdate;
use mesh_agent::lb::Balancers;
use mesh_agent::pipeline::{ConfigState, ReloadResult};
use mesh_agent::snapshot::{workload_name, Address, Protocol};

use crate::harness::config::{self, compile};

const SERVICE: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  clusterIP: 10.96.1.1
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: http-port, appProtocol: http}
  - {name: raw, port: 7000}
"#;

const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-0, namespace: bookinfo, labels: {app: reviews, version: v1}}
spec:
  nodeName: node-1
  containers: [{name: app, ports: [{name: http-port, containerPort: 9081}]}]
status: {podIP: 10.244.1.5}
---
apiVersion: v1
kind: Pod
metadata: {name: other-0, namespace: elsewhere, labels: {app: reviews}}
spec: {containers: []}
status: {podIP: 10.244.1.6}
"#;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn endpoints(state: &ConfigState, cluster_ip: &str) -> Vec<(Address, u16)> {
    let snapshot = state.snapshot();
    let (service, port) = snapshot.service_at(addr(cluster_ip)).expect(cluster_ip);
    let cluster = snapshot
        .cluster(&service.hostname, port.port, None)
        .unwrap();
    cluster.endpoints.clone()
}

fn ip(s: &str) -> Address {
    Address::Ip(s.parse().unwrap())
}

#[test]
fn cluster_ip_ports_reach_the_selected_pods_of_their_namespace() {
    let state = compile(&format!("{SERVICE}---{PODS}"));
    assert_eq!(
        endpoints(&state, "10.96.1.1:9080"),
        [(ip("10.244.1.5"), 9081)],
        "named targetPort resolved, the other namespace's pod left out"
    );
    assert_eq!(
        endpoints(&state, "10.96.1.1:7000"),
        [(ip("10.244.1.5"), 7000)],
        "no targetPort: the port itself"
    );
    let snapshot = state.snapshot();
    let (service, port) = snapshot.service_at(addr("10.96.1.1:9080")).unwrap();
    assert_eq!(service.hostname, "reviews.bookinfo.svc.cluster.local");
    assert_eq!(port.protocol, Protocol::Http);
    assert!(snapshot.service_at(addr("10.96.1.1:1")).is_none());
    let workload = snapshot.workload("10.244.1.5".parse().unwrap()).unwrap();
    assert_eq!(
        (workload.name.as_str(), workload.version.as_deref()),
        ("reviews-v1", Some("v1"))
    );
}

#[test]
fn an_endpoint_names_the_service_port_it_serves_for_inbound_telemetry() {
    let state = compile(&format!("{SERVICE}---{PODS}"));
    let snapshot = state.snapshot();
    let (service, port) = snapshot
        .service_of_endpoint(addr("10.244.1.5:9081"))
        .expect("target port of the http port");
    assert_eq!((service.name.as_str(), port.port), ("reviews", 9080));
    let (_, raw) = snapshot
        .service_of_endpoint(addr("10.244.1.5:7000"))
        .unwrap();
    assert_eq!(raw.port, 7000);
    assert!(snapshot
        .service_of_endpoint(addr("10.244.1.6:9081"))
        .is_none());
}

#[test]
fn workload_is_the_pod_name_without_the_replica_suffix_else_the_app_label() {
    assert_eq!(workload_name("web-2", Some("x")), "web");
    assert_eq!(workload_name("reviews-v2-10", None), "reviews-v2");
    assert_eq!(workload_name("standalone", Some("shop")), "shop");
    assert_eq!(workload_name("standalone", None), "standalone");
    assert_eq!(workload_name("-1", None), "-1");
}

const TWO_PODS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {clusterIP: 10.96.0.1, selector: {app: s}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: s-0, labels: {app: s}}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: s-1, labels: {app: s}}
status: {podIP: 10.0.0.1}
"#;

/// A TCP connection's endpoint, picked by the cluster's balancer as the L4 path picks it.
fn pick(state: &ConfigState, balancers: &Balancers) -> SocketAddr {
    let snapshot = state.snapshot();
    let cluster = snapshot.cluster("s.default.svc.cluster.local", 80, None);
    let balancer = balancers.of(cluster.unwrap());
    let (source, dialled) = ("10.0.0.9".parse().unwrap(), "10.96.0.1:80".parse().unwrap());
    mesh_agent::lb::for_connection(&balancer, source, dialled, None)
        .unwrap()
        .endpoint
}

#[test]
fn round_robin_alternates_and_keeps_its_place_across_a_reload() {
    let state = compile(TWO_PODS);
    let balancers = Balancers::default();
    let first = pick(&state, &balancers);
    let second = pick(&state, &balancers);
    assert_ne!(first, second);
    assert_eq!(pick(&state, &balancers), first);
    state.apply(&update(TWO_PODS));
    assert_eq!(
        pick(&state, &balancers),
        second,
        "the reload did not reset the position"
    );
}

/// A reload that removes a Service takes its cluster's balancer with it (the balancers follow
/// the snapshots swapped in); a cluster still there keeps its balancer.
#[tokio::test]
async fn a_removed_clusters_balancer_goes_with_the_reload() {
    let state = compile(TWO_PODS);
    let balancers = std::sync::Arc::new(Balancers::default());
    tokio::spawn(balancers.clone().follow(state.clone()));
    pick(&state, &balancers);
    assert_eq!(balancers.cluster_count(), 1);
    state.apply(&update(TWO_PODS));
    tokio::task::yield_now().await;
    assert_eq!(balancers.cluster_count(), 1, "the cluster is still there");
    let pods_only = TWO_PODS.split_once("---").unwrap().1;
    state.apply(&update(pods_only));
    let gone = || balancers.cluster_count() == 0;
    crate::harness::wait_until("the removed cluster's balancer is dropped", gone).await;
}

fn update(yaml: &str) -> SourceUpdate {
    config::update("cfg.yaml", yaml)
}

#[test]
fn a_rejected_resource_is_reported_and_the_rest_applies() {
    let bad_route = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
                     metadata: {name: r}\nspec: {hosts: [s], http: [{route: [{destination: \
                     {host: s, subset: nope}}]}]}\n";
    let state = ConfigState::default();
    assert!(!state.is_loaded());
    let reload = state.apply(&update(&format!("{TWO_PODS}---\n{bad_route}")));
    assert!(state.is_loaded());
    assert_eq!(reload.result(), ReloadResult::RejectedResources);
    let snapshot = state.snapshot();
    assert_eq!(reload.rejected(&snapshot), 1);
    assert_eq!(snapshot.rejected()[0].resource, "VirtualService/default/r");
    assert!(snapshot.service_at(addr("10.96.0.1:80")).is_some());
    let line = reload
        .problems
        .iter()
        .find(|p| p.is_error())
        .unwrap()
        .to_string();
    assert!(
        line.starts_with("cfg.yaml:20:60: VirtualService/default/r: "),
        "{line}"
    );
}
