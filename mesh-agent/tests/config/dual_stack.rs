//! Dual-stack in the snapshot: a Service is found at each of its ClusterIPs (IPv4 and IPv6),
//! its endpoints are its pods' IPs of its primary family (from the selector, Endpoints or the
//! EndpointSlice of that family), and a pod is a workload under each of its IPs.

use std::net::{IpAddr, SocketAddr};

use mesh_agent::snapshot::{Address, Snapshot};

use crate::harness::config::compile;

const HOST: &str = "web.shop.svc.cluster.local";

/// A Service `web` with `families` and `cluster_ips`, selecting `app: web`, port 80 → 8080.
fn service(families: &str, cluster_ips: &[&str]) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\n\
         spec:\n  ipFamilies: [{families}]\n  clusterIP: {}\n  clusterIPs: [{}]\n\
         \x20 selector: {{app: web}}\n  ports: [{{port: 80, targetPort: 8080}}]\n---\n",
        cluster_ips[0],
        cluster_ips.join(", ")
    )
}

/// Pod `web-<n>` with `ips` (`status.podIPs`, the first as `podIP`).
fn pod(n: u8, ips: &[&str]) -> String {
    let listed: Vec<String> = ips.iter().map(|ip| format!("{{ip: \"{ip}\"}}")).collect();
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: web-{n}, namespace: shop, labels: {{app: web}}}}\n\
         status: {{podIP: \"{}\", podIPs: [{}]}}\n---\n",
        ips[0],
        listed.join(", ")
    )
}

fn endpoints(snapshot: &Snapshot) -> Vec<IpAddr> {
    let cluster = snapshot.cluster(HOST, 80, None).expect("cluster of web");
    let ips = cluster.endpoints.iter().map(|(address, port)| {
        assert_eq!(*port, 8080);
        match address {
            Address::Ip(ip) => *ip,
            other => panic!("endpoint {other:?}"),
        }
    });
    ips.collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn dual_pods() -> String {
    pod(0, &["10.244.1.5", "fd00:10:244:1::5"]) + &pod(1, &["10.244.2.5", "fd00:10:244:2::5"])
}

#[test]
fn a_dual_stack_service_is_found_at_both_cluster_ips_and_balances_its_primary_family() {
    let yaml = service("IPv6, IPv4", &["fd00:10:96::a", "10.96.0.10"]) + &dual_pods();
    let snapshot = compile(&yaml).snapshot();
    for vip in ["[fd00:10:96::a]:80", "10.96.0.10:80"] {
        let (found, _) = snapshot.service_at(vip.parse().unwrap()).expect(vip);
        assert_eq!(found.hostname, HOST, "{vip}");
    }
    let v6 = [ip("fd00:10:244:1::5"), ip("fd00:10:244:2::5")];
    assert_eq!(endpoints(&snapshot), v6);
    // A pod's address in the other family is still known as the Service's backend.
    for pod in [v6[0], ip("10.244.1.5")] {
        let endpoint = SocketAddr::new(pod, 8080);
        assert!(
            snapshot.service_of_endpoint(endpoint).is_some(),
            "{endpoint}"
        );
    }
}

#[test]
fn an_ipv4_service_of_dual_stack_pods_balances_their_ipv4_addresses() {
    let yaml = service("IPv4", &["10.96.0.10"]) + &dual_pods();
    let snapshot = compile(&yaml).snapshot();
    assert_eq!(endpoints(&snapshot), [ip("10.244.1.5"), ip("10.244.2.5")]);
}

#[test]
fn an_ipv6_only_service_of_ipv6_pods() {
    let yaml = service("IPv6", &["fd00:10:96::a"])
        + &pod(0, &["fd00:10:244:1::5"])
        + &pod(1, &["10.244.2.5"]);
    let snapshot = compile(&yaml).snapshot();
    assert!(snapshot
        .service_at("[fd00:10:96::a]:80".parse().unwrap())
        .is_some());
    assert_eq!(endpoints(&snapshot), [ip("fd00:10:244:1::5")]);
}

#[test]
fn endpoint_slices_of_the_primary_family_are_the_endpoints() {
    let slice = |family: &str, name: &str, address: &str| {
        format!(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
             metadata: {{name: {name}, namespace: shop, labels: {{kubernetes.io/service-name: web}}}}\n\
             addressType: {family}\nports: [{{port: 8080}}]\n\
             endpoints: [{{addresses: [\"{address}\"], targetRef: {{kind: Pod, name: web-0}}}}]\n---\n"
        )
    };
    let yaml = service("IPv4, IPv6", &["10.96.0.10", "fd00:10:96::a"])
        + &dual_pods()
        + &slice("IPv4", "web-v4", "10.244.1.5")
        + &slice("IPv6", "web-v6", "fd00:10:244:1::5");
    let snapshot = compile(&yaml).snapshot();
    assert_eq!(endpoints(&snapshot), [ip("10.244.1.5")]);
}

#[test]
fn a_dual_stack_pod_is_a_workload_under_each_of_its_ips() {
    let snapshot = compile(&dual_pods()).snapshot();
    for address in ["10.244.1.5", "fd00:10:244:1::5"] {
        let workload = snapshot.workload(ip(address)).expect(address);
        assert_eq!(workload.pod_name, "web-0", "{address}");
    }
}
