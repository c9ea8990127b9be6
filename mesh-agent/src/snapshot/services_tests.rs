//! ServiceEntries as the registry holds them: resolved DNS names as endpoints, `targetPort`,
//! CIDR addresses, resolution NONE as passthrough, and which entry a Host or SNI names.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use crate::snapshot::{build_with, Address, LoadSettings, ResolvedNames, Snapshot};

fn entry(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: {name}, namespace: shop}}\nspec:\n{spec}---\n"
    )
}

fn snapshot_with(yaml: &str, names: &[(&str, &[&str])]) -> Snapshot {
    let documents = crate::document::parse_documents(Path::new("t.yaml"), yaml).unwrap();
    let resolved = names.iter().map(|(name, ips)| {
        let ips = ips.iter().map(|ip| ip.parse().unwrap()).collect();
        (name.to_string(), ips)
    });
    let settings = LoadSettings {
        names: Arc::new(ResolvedNames::new(resolved)),
        ..LoadSettings::default()
    };
    let (snapshot, problems) = build_with(&Arc::new(documents), None, &settings);
    assert!(problems.iter().all(|p| !p.is_error()), "{problems:?}");
    snapshot
}

fn endpoints(snapshot: &Snapshot, host: &str, port: u16) -> Vec<(Address, u16)> {
    snapshot
        .cluster(host, port, None)
        .unwrap()
        .endpoints
        .clone()
}

fn ip(text: &str) -> Address {
    Address::Ip(text.parse::<IpAddr>().unwrap())
}

const DNS: &str = "  hosts: [api.example.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n\
\x20 ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]\n";

#[test]
fn a_dns_host_has_the_addresses_its_name_resolved_to_at_the_target_port() {
    let snapshot = snapshot_with(
        &entry("api", DNS),
        &[("api.example.com", &["192.0.2.2", "192.0.2.1"])],
    );
    let found = endpoints(&snapshot, "api.example.com", 80);
    assert_eq!(found, [(ip("192.0.2.1"), 8080), (ip("192.0.2.2"), 8080)]);
    let service = snapshot.service("api.example.com", "shop").unwrap();
    assert_eq!(
        service.dns_names,
        ["api.example.com"],
        "still resolved by name"
    );
    let by_ip = snapshot.service_at("192.0.2.2:80".parse().unwrap());
    assert_eq!(
        by_ip.unwrap().0.hostname,
        "api.example.com",
        "TCP finds it by resolved IP"
    );
}

#[test]
fn a_dns_host_not_resolved_yet_keeps_its_name() {
    let snapshot = snapshot_with(&entry("api", DNS), &[]);
    let found = endpoints(&snapshot, "api.example.com", 80);
    assert_eq!(found, [(Address::Dns("api.example.com".into()), 8080)]);
    let names =
        crate::snapshot::dns_names(snapshot.registry().services().iter().map(|s| s.as_ref()));
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["api.example.com"]);
}

#[test]
fn dns_round_robin_uses_the_first_address_and_endpoint_names_resolve_too() {
    let spec = "  hosts: [db.example.com]\n  resolution: DNS_ROUND_ROBIN\n\
                \x20 ports: [{number: 5432, name: tcp, protocol: TCP}]\n\
                \x20 endpoints: [{address: db-1.example.com, labels: {zone: a}}]\n";
    let names: &[(&str, &[&str])] = &[("db-1.example.com", &["192.0.2.9", "192.0.2.8"])];
    let snapshot = snapshot_with(&entry("db", spec), names);
    assert_eq!(
        endpoints(&snapshot, "db.example.com", 5432),
        [(ip("192.0.2.8"), 5432)]
    );
}

#[test]
fn cidr_addresses_find_the_entry_for_any_address_within() {
    let spec = "  hosts: [legacy.example.com]\n  addresses: [203.0.113.0/24, 198.51.100.7/32]\n\
                \x20 resolution: NONE\n  ports: [{number: 3306, name: tcp, protocol: TCP}]\n";
    let snapshot = snapshot_with(&entry("legacy", spec), &[]);
    let at = |addr: &str| {
        let found = snapshot.service_at(addr.parse::<SocketAddr>().unwrap());
        found.map(|(s, _)| s.hostname.clone())
    };
    assert_eq!(
        at("203.0.113.77:3306").as_deref(),
        Some("legacy.example.com")
    );
    assert_eq!(
        at("198.51.100.7:3306").as_deref(),
        Some("legacy.example.com")
    );
    assert_eq!(at("203.0.113.77:3307"), None, "another port");
    assert_eq!(at("203.0.114.1:3306"), None, "outside the CIDR");
    let cluster = snapshot.cluster("legacy.example.com", 3306, None).unwrap();
    let lb = cluster.policy.load_balancer.as_ref().and_then(|l| l.simple);
    assert_eq!(
        lb,
        Some(crate::resources::SimpleLb::Passthrough),
        "NONE dials the original destination"
    );
}

#[test]
fn a_host_or_sni_names_an_entry_exactly_or_by_its_most_specific_wildcard() {
    let yaml = entry(
        "wild",
        "  hosts: ['*.example.com']\n  resolution: NONE\n  ports: [{number: 443, name: tls, protocol: TLS}]\n",
    ) + &entry(
        "exact",
        "  hosts: [www.example.com]\n  resolution: DNS\n  ports: [{number: 443, name: tls, protocol: TLS}]\n",
    ) + &entry(
        "private",
        "  hosts: [hidden.example.org]\n  exportTo: [.]\n  resolution: NONE\n  ports: [{number: 443, name: tls, protocol: TLS}]\n",
    );
    let snapshot = snapshot_with(&yaml, &[]);
    let named = |host: &str, port: u16, ns: &str| {
        let found = snapshot.registry().named_at(host, port, ns);
        found.map(|(s, _)| s.hostname.clone())
    };
    assert_eq!(
        named("www.example.com", 443, "shop").as_deref(),
        Some("www.example.com")
    );
    assert_eq!(
        named("WWW.Example.com.", 443, "shop").as_deref(),
        Some("www.example.com")
    );
    assert_eq!(
        named("a.b.example.com", 443, "shop").as_deref(),
        Some("*.example.com")
    );
    assert_eq!(named("a.example.com", 80, "shop"), None, "no such port");
    assert_eq!(named("example.net", 443, "shop"), None);
    assert_eq!(
        named("hidden.example.org", 443, "shop").as_deref(),
        Some("hidden.example.org")
    );
    assert_eq!(
        named("hidden.example.org", 443, "other"),
        None,
        "not exported there"
    );
}

#[test]
fn a_workload_selector_makes_the_selected_pods_of_its_namespace_the_endpoints() {
    let pod = |name: &str, ns: &str, app: &str, ip: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{app: {app}}}}}\n\
             status: {{podIP: {ip}}}\n---\n"
        )
    };
    let spec = "  hosts: [vm.example.internal]\n  location: MESH_INTERNAL\n  resolution: STATIC\n\
                \x20 workloadSelector: {labels: {app: legacy}}\n\
                \x20 ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]\n";
    let yaml = entry("vm", spec)
        + &pod("legacy-1", "shop", "legacy", "10.244.0.7")
        + &pod("legacy-0", "shop", "legacy", "10.244.0.6")
        + &pod("web-0", "shop", "web", "10.244.0.8")
        + &pod("legacy-x", "other", "legacy", "10.244.0.9");
    let snapshot = snapshot_with(&yaml, &[]);
    let found = endpoints(&snapshot, "vm.example.internal", 80);
    assert_eq!(found, [(ip("10.244.0.6"), 8080), (ip("10.244.0.7"), 8080)]);
}

#[test]
fn endpoint_weights_reach_the_clusters_and_even_ones_are_dropped() {
    let spec = "  hosts: [api.example.com]\n  location: MESH_EXTERNAL\n  resolution: STATIC\n\
                \x20 ports: [{number: 80, name: http, protocol: HTTP}]\n  endpoints:\n\
                \x20 - {address: 192.0.2.1, weight: 1, labels: {track: a}}\n\
                \x20 - {address: 192.0.2.2, weight: 3, labels: {track: b}}\n\
                \x20 - {address: 192.0.2.3, labels: {track: b}}\n\
                \x20 - {address: 192.0.2.4, weight: 0, labels: {track: b}}\n";
    let rule = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
                metadata: {name: api, namespace: shop}\nspec:\n  host: api.example.com\n\
                \x20 subsets: [{name: a, labels: {track: a}}, {name: b, labels: {track: b}}]\n";
    let snapshot = snapshot_with(&(entry("api", spec) + rule), &[]);
    let weights = |subset: Option<&str>| {
        let cluster = snapshot.cluster("api.example.com", 80, subset).unwrap();
        (cluster.endpoints.len(), cluster.weights.clone())
    };
    assert_eq!(weights(None), (4, vec![1, 3, 1, 1]), "unset and 0 weigh 1");
    assert_eq!(weights(Some("a")), (1, vec![]));
    assert_eq!(weights(Some("b")), (3, vec![3, 1, 1]));
}

#[test]
fn endpoint_localities_reach_the_clusters_only_where_one_is_known() {
    let spec = "  hosts: [api.example.com]\n  location: MESH_EXTERNAL\n  resolution: STATIC\n\
                \x20 ports: [{number: 80, name: http, protocol: HTTP}]\n  endpoints:\n\
                \x20 - {address: 192.0.2.1, labels: {track: a}}\n\
                \x20 - {address: 192.0.2.2, locality: us/a, labels: {track: b}}\n\
                \x20 - {address: 192.0.2.3, labels: {track: b}}\n";
    let rule = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
                metadata: {name: api, namespace: shop}\nspec:\n  host: api.example.com\n\
                \x20 subsets: [{name: a, labels: {track: a}}, {name: b, labels: {track: b}}]\n";
    let snapshot = snapshot_with(&(entry("api", spec) + rule), &[]);
    let localities = |subset: Option<&str>| {
        let cluster = snapshot.cluster("api.example.com", 80, subset).unwrap();
        let each = cluster.localities.iter().map(|l| l.to_string());
        each.collect::<Vec<_>>()
    };
    assert_eq!(localities(None), ["", "us/a", ""]);
    assert!(localities(Some("a")).is_empty(), "none known: none kept");
    assert_eq!(localities(Some("b")), ["us/a", ""]);
}
