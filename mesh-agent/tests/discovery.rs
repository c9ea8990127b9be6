//! Discovery from a config directory: parsing Services and Pods into endpoints and workloads,
//! and reloading with a bad file keeping the previous snapshot.

mod agent_support;

use std::net::SocketAddr;

use agent_support::*;
use mesh_agent::discovery::{workload_name, Discovery, FileSource};

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

#[test]
fn services_map_cluster_ip_ports_to_selected_pods_in_their_namespace() {
    let snapshot = discovery(&format!("{SERVICE}---{PODS}")).snapshot();
    let http = snapshot.service(addr("10.96.1.1:9080")).expect("http port");
    assert_eq!(
        http.endpoints,
        [addr("10.244.1.5:9081")],
        "named targetPort resolved"
    );
    assert_eq!(http.app_protocol.as_deref(), Some("http"));
    assert_eq!(http.hostname(), "reviews.bookinfo.svc.cluster.local");
    let raw = snapshot.service(addr("10.96.1.1:7000")).expect("raw port");
    assert_eq!(
        raw.endpoints,
        [addr("10.244.1.5:7000")],
        "no targetPort: the port itself"
    );
    assert!(snapshot.service(addr("10.96.1.1:1")).is_none());
    let workload = snapshot.workload("10.244.1.5".parse().unwrap()).unwrap();
    assert_eq!(
        (workload.name.as_str(), workload.version.as_deref()),
        ("reviews-v1", Some("v1"))
    );
}

#[test]
fn workload_is_the_pod_name_without_the_replica_suffix_else_the_app_label() {
    assert_eq!(workload_name("web-2", Some("x")), "web");
    assert_eq!(workload_name("reviews-v2-10", None), "reviews-v2");
    assert_eq!(workload_name("standalone", Some("shop")), "shop");
    assert_eq!(workload_name("standalone", None), "standalone");
    assert_eq!(workload_name("-1", None), "-1");
}

#[test]
fn round_robin_cycles_through_endpoints() {
    let yaml = r#"
kind: Service
metadata: {name: s}
spec: {clusterIP: 10.96.0.1, selector: {app: s}, ports: [{port: 80}]}
---
kind: Pod
metadata: {name: s-0, labels: {app: s}}
status: {podIP: 10.0.0.2}
---
kind: Pod
metadata: {name: s-1, labels: {app: s}}
status: {podIP: 10.0.0.1}
"#;
    let service = discovery(yaml)
        .snapshot()
        .service(addr("10.96.0.1:80"))
        .unwrap();
    let picks: Vec<_> = (0..4).map(|_| service.pick().unwrap()).collect();
    let (a, b) = (addr("10.0.0.1:80"), addr("10.0.0.2:80"));
    assert_eq!(picks, [a, b, a, b]);
}

#[test]
fn reload_picks_up_changes_and_a_bad_file_keeps_the_previous_snapshot() {
    let dir = TempDir::new("discovery");
    std::fs::write(dir.path().join("svc.yaml"), SERVICE).unwrap();
    std::fs::write(dir.path().join("pods.yml"), PODS).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not yaml: [").unwrap();
    let discovery = Discovery::default();
    let mut source = FileSource::new(dir.path().to_path_buf(), discovery.clone());
    assert!(!discovery.is_loaded());
    assert!(source.poll().unwrap(), "first poll loads");
    assert!(discovery.is_loaded());
    assert!(!source.poll().unwrap(), "unchanged directory: no reload");
    let endpoints = |d: &Discovery| {
        d.snapshot()
            .service(addr("10.96.1.1:7000"))
            .unwrap()
            .endpoints
            .clone()
    };
    assert_eq!(endpoints(&discovery).len(), 1);

    std::fs::write(
        dir.path().join("broken.yaml"),
        "kind: Pod\nmetadata: [oops\n",
    )
    .unwrap();
    let error = source.poll().unwrap_err().to_string();
    assert!(error.contains("broken.yaml"), "names the file: {error}");
    assert_eq!(
        endpoints(&discovery).len(),
        1,
        "previous snapshot still serves"
    );

    std::fs::remove_file(dir.path().join("broken.yaml")).unwrap();
    let second_pod = PODS
        .replace("other-0", "reviews-v1-1")
        .replace("elsewhere", "bookinfo");
    std::fs::write(dir.path().join("pods.yml"), second_pod).unwrap();
    assert!(source.poll().unwrap());
    assert_eq!(endpoints(&discovery).len(), 2, "the new pod is an endpoint");
}
