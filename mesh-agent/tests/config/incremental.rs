//! Incremental rebuilds: a build against the previous snapshot reuses the compiled services
//! and clusters whose inputs did not change, and gives exactly the snapshot (as `/config_dump`
//! serializes it) that a full build of the same resources gives.

use std::path::Path;
use std::sync::Arc;

use mesh_agent::document::parse_documents;
use mesh_agent::document::ResourceSet;
use mesh_agent::snapshot::{build, Snapshot};

fn service(name: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: shop}}\n\
         spec: {{clusterIP: {ip}, selector: {{app: {name}}}, \
         ports: [{{name: http, port: 80, targetPort: 8080}}]}}\n---\n"
    )
}

fn slice(name: &str, ips: [&str; 2]) -> String {
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
         metadata: {{name: {name}-x, namespace: shop, \
         labels: {{kubernetes.io/service-name: {name}}}}}\naddressType: IPv4\n\
         ports: [{{name: http, port: 8080}}]\nendpoints:\n\
         - {{addresses: [{}], targetRef: {{kind: Pod, name: {name}-0}}}}\n\
         - {{addresses: [{}], targetRef: {{kind: Pod, name: {name}-1}}}}\n---\n",
        ips[0], ips[1]
    )
}

fn pod(name: &str, app: &str, version: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, \
         labels: {{app: {app}, version: {version}}}}}\nstatus: {{podIP: {ip}}}\n---\n"
    )
}

fn rule(max_connections: u32, v2_label: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
         metadata: {{name: web, namespace: shop}}\nspec:\n  host: web\n  trafficPolicy: \
         {{connectionPool: {{tcp: {{maxConnections: {max_connections}}}}}}}\n  subsets:\n\
         \x20 - {{name: v1, labels: {{version: v1}}}}\n\
         \x20 - {{name: v2, labels: {{version: {v2_label}}}}}\n---\n"
    )
}

fn routes(v2_weight: u32) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: web, namespace: shop}}\nspec:\n  hosts: [web]\n  http:\n\
         \x20 - route:\n\
         \x20   - {{destination: {{host: web, subset: v1}}, weight: {}}}\n\
         \x20   - {{destination: {{host: web, subset: v2}}, weight: {v2_weight}}}\n---\n",
        100 - v2_weight
    )
}

/// The pieces of the base configuration, changed one at a time by the tests.
struct Config {
    web_ips: [&'static str; 2],
    rule: String,
    routes: String,
    with_cart: bool,
    pod_version: &'static str,
    /// A second EndpointSlice (10.4.0.1) and the Service it belongs to.
    extra_slice: Option<&'static str>,
}

impl Config {
    fn base() -> Self {
        Config {
            web_ips: ["10.1.0.1", "10.1.0.2"],
            rule: rule(100, "v2"),
            routes: routes(10),
            with_cart: true,
            pod_version: "v1",
            extra_slice: None,
        }
    }

    fn set(&self) -> ResourceSet {
        let mut yaml = service("web", "10.96.0.1") + &slice("web", self.web_ips);
        yaml += &service("pods", "10.96.0.3");
        yaml += &pod("pods-0", "pods", self.pod_version, "10.2.0.1");
        yaml += &(pod("web-0", "web", "v1", "10.1.0.1") + &pod("web-1", "web", "v2", "10.1.0.2"));
        yaml += &(self.rule.clone() + &self.routes);
        // Last: deleting it moves no other document (an origin's line is part of its identity).
        if self.with_cart {
            yaml += &(service("cart", "10.96.0.2") + &slice("cart", ["10.3.0.1", "10.3.0.2"]));
        }
        // After cart: it moves no other document either.
        if let Some(owner) = self.extra_slice {
            yaml += &extra_slice(owner);
        }
        Arc::new(parse_documents(Path::new("shop.yaml"), &yaml).unwrap())
    }
}

fn dump(snapshot: &Snapshot) -> serde_json::Value {
    serde_json::to_value(snapshot).unwrap()
}

fn extra_slice(owner: &str) -> String {
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
         metadata: {{name: extra, namespace: shop, \
         labels: {{kubernetes.io/service-name: {owner}}}}}\naddressType: IPv4\n\
         ports: [{{name: http, port: 8080}}]\nendpoints: [{{addresses: [10.4.0.1]}}]\n---\n"
    )
}

/// Builds `changed` against the base snapshot and from scratch; asserts both dump alike and
/// returns (base, incremental).
fn rebuilt(changed: Config) -> (Snapshot, Snapshot) {
    rebuilt_from(Config::base(), changed)
}

/// [`rebuilt`] from another base.
fn rebuilt_from(base: Config, changed: Config) -> (Snapshot, Snapshot) {
    let (base, problems) = build(&base.set(), None);
    assert!(!problems.iter().any(|p| p.is_error()), "{problems:?}");
    let set = changed.set();
    let (incremental, _) = build(&set, Some(&base));
    let (full, _) = build(&set, None);
    assert_eq!(dump(&incremental), dump(&full));
    (base, incremental)
}

const WEB: &str = "web.shop.svc.cluster.local";
const CART: &str = "cart.shop.svc.cluster.local";

fn same_cluster(a: &Snapshot, b: &Snapshot, host: &str, subset: Option<&str>) -> bool {
    let (x, y) = (a.cluster(host, 80, subset), b.cluster(host, 80, subset));
    Arc::ptr_eq(x.unwrap(), y.unwrap())
}

#[test]
fn an_endpoint_change_recompiles_only_its_service() {
    let (base, next) = rebuilt(Config {
        web_ips: ["10.1.0.1", "10.1.0.9"],
        ..Config::base()
    });
    assert!(!same_cluster(&base, &next, WEB, None));
    assert!(same_cluster(&base, &next, CART, None));
}

#[test]
fn a_virtual_service_change_keeps_every_cluster() {
    let (base, next) = rebuilt(Config {
        routes: routes(50),
        ..Config::base()
    });
    assert!(same_cluster(&base, &next, WEB, Some("v2")));
    assert!(same_cluster(&base, &next, CART, None));
}

#[test]
fn a_destination_rule_change_recompiles_the_clusters_of_its_host() {
    let (base, next) = rebuilt(Config {
        rule: rule(7, "v1"),
        ..Config::base()
    });
    assert!(!same_cluster(&base, &next, WEB, Some("v2")));
    assert!(same_cluster(&base, &next, CART, None));
}

#[test]
fn a_deleted_service_takes_its_clusters_with_it() {
    let (base, next) = rebuilt(Config {
        with_cart: false,
        ..Config::base()
    });
    assert!(next.cluster(CART, 80, None).is_none());
    assert!(same_cluster(&base, &next, WEB, None));
}

#[test]
fn a_pod_change_recompiles_the_services_reading_pods() {
    let (_, next) = rebuilt(Config {
        pod_version: "v2",
        ..Config::base()
    });
    let pods = next.service("pods", "shop").unwrap();
    assert_eq!(pods.endpoints[0].labels["version"], "v2");
    let web = next.cluster(WEB, 80, Some("v2")).unwrap();
    assert_eq!(web.endpoints.len(), 1);
}

#[test]
fn an_endpoint_change_carries_every_route_workload_and_other_service_over() {
    let (base, next) = rebuilt(Config {
        web_ips: ["10.1.0.1", "10.1.0.9"],
        ..Config::base()
    });
    let route = |s: &Snapshot| s.routes(WEB, 80, "shop").unwrap().clone();
    assert!(
        Arc::ptr_eq(&route(&base), &route(&next)),
        "routes not compiled again"
    );
    let pod = |s: &Snapshot| s.workload("10.1.0.1".parse().unwrap()).unwrap().clone();
    assert!(
        Arc::ptr_eq(&pod(&base), &pod(&next)),
        "workloads not rebuilt"
    );
    assert!(same_cluster(&base, &next, CART, None));
    let moved = "10.1.0.9:8080".parse().unwrap();
    assert_eq!(next.service_of_endpoint(moved).unwrap().0.hostname, WEB);
    assert!(next
        .service_of_endpoint("10.1.0.2:8080".parse().unwrap())
        .is_none());
}

#[test]
fn an_endpoint_slice_moved_to_another_service_or_deleted_is_followed() {
    let with_extra = |owner| Config {
        extra_slice: owner,
        ..Config::base()
    };
    let extra = "10.4.0.1:8080".parse().unwrap();
    let (base, moved) = rebuilt_from(with_extra(Some("web")), with_extra(Some("cart")));
    assert_eq!(base.service_of_endpoint(extra).unwrap().0.hostname, WEB);
    assert_eq!(moved.service_of_endpoint(extra).unwrap().0.hostname, CART);
    assert_eq!(moved.outbound_service(extra).unwrap().0.hostname, CART);
    let route = |s: &Snapshot| s.routes(WEB, 80, "shop").unwrap().clone();
    assert!(Arc::ptr_eq(&route(&base), &route(&moved)));
    let (_, deleted) = rebuilt_from(with_extra(Some("web")), with_extra(None));
    assert!(deleted.service_of_endpoint(extra).is_none());
    assert_eq!(deleted.cluster(WEB, 80, None).unwrap().endpoints.len(), 2);
}
