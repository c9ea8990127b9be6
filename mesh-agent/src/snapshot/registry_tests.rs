//! Table tests of [`Registry::behind`] through [`Snapshot::outbound_service`]: a backend pod
//! IP:target port stands for its ClusterIP Service port, as a socket load balancer (Cilium's)
//! leaves it; headless Services and ServiceEntries never; the authority picks among several.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::snapshot::{build, Snapshot};

/// Service `shop/<name>` at `cluster_ip` ("None": headless) over pods `app: web`, port 80 →
/// 8080.
fn service(name: &str, cluster_ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: shop}}\n\
         spec:\n  clusterIP: {cluster_ip}\n  selector: {{app: web}}\n\
         \x20 ports: [{{name: http, port: 80, targetPort: 8080}}]\n---\n"
    )
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-0, namespace: shop, \
labels: {app: web}}\nstatus: {podIP: 10.244.1.5}\n---\n";

const ENTRY: &str = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
metadata: {name: static, namespace: shop}\nspec:\n  hosts: [static.example.com]\n\
\x20 addresses: [240.0.0.1]\n  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 9090}]\n\
\x20 resolution: STATIC\n  endpoints: [{address: 10.244.1.5}]\n---\n";

fn snapshot(yaml: &str) -> Snapshot {
    let documents = crate::document::parse_documents(Path::new("t.yaml"), yaml).unwrap();
    let (snapshot, problems) = build(&Arc::new(documents), None);
    assert!(problems.iter().all(|p| !p.is_error()), "{problems:?}");
    snapshot
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// The hostname and port `outbound_service_named` finds for `dst`, with `host`.
fn found(snapshot: &Snapshot, dst: &str, host: Option<&str>) -> Option<(String, u16)> {
    let (service, port) = snapshot.outbound_service_named(addr(dst), host, "shop")?;
    Some((service.hostname.clone(), port.port))
}

fn web(name: &str) -> Option<(String, u16)> {
    Some((format!("{name}.shop.svc.cluster.local"), 80))
}

#[test]
fn a_backend_stands_for_its_cluster_ip_service_port() {
    let s = snapshot(&(service("web", "10.96.0.10") + POD));
    assert_eq!(found(&s, "10.96.0.10:80", None), web("web"));
    assert_eq!(found(&s, "10.244.1.5:8080", None), web("web"));
    let (service, port) = s.outbound_service(addr("10.244.1.5:8080")).unwrap();
    assert_eq!((service.name.as_str(), port.port), ("web", 80));
    // Not a target port, not a backend: no Service (passthrough).
    assert_eq!(found(&s, "10.244.1.5:80", None), None);
    assert_eq!(found(&s, "10.244.1.6:8080", None), None);
}

#[test]
fn headless_services_and_service_entries_are_not_behind_a_backend() {
    let s = snapshot(&(service("web-headless", "None") + POD + ENTRY));
    assert_eq!(found(&s, "10.244.1.5:8080", None), None);
    assert_eq!(found(&s, "10.244.1.5:9090", None), None);
    // Their addresses still are theirs.
    assert!(found(&s, "240.0.0.1:80", None).is_some());
}

#[test]
fn the_authority_picks_among_several_services_else_the_first_by_name() {
    let yaml = service("web", "10.96.0.10") + &service("checkout", "10.96.0.11") + POD;
    let s = snapshot(&(yaml + &service("web-headless", "None")));
    let backend = "10.244.1.5:8080";
    assert_eq!(found(&s, backend, None), web("checkout"));
    assert_eq!(found(&s, backend, Some("web")), web("web"));
    assert_eq!(found(&s, backend, Some("WEB.shop:80")), web("web"));
    assert_eq!(
        found(&s, backend, Some("web.shop.svc.cluster.local")),
        web("web")
    );
    assert_eq!(found(&s, backend, Some("checkout.shop")), web("checkout"));
    // A host naming no Service the backend serves (an IP, a headless one) picks nothing.
    assert_eq!(found(&s, backend, Some("10.244.1.5:8080")), web("checkout"));
    assert_eq!(found(&s, backend, Some("web-headless")), web("checkout"));
}
