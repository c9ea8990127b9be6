//! Every shape of Istio's traffic-management tasks, in each API version, compiles to the routes
//! and clusters the tasks expect.

use std::net::SocketAddr;

use crate::harness::config::{compile_with, lines, tasks};
use mesh_agent::resources::{ClientTlsMode, OutboundMode, SimpleLb};
use mesh_agent::snapshot::{Address, Snapshot};

const VERSIONS: [&str; 3] = ["v1alpha3", "v1beta1", "v1"];
const REVIEWS: &str = "reviews.default.svc.cluster.local";

fn compiled(version: &str) -> Snapshot {
    let (snapshot, problems) = compile_with(tasks(version));
    assert!(problems.is_empty(), "{version}: {:#?}", lines(&problems));
    snapshot
}

#[test]
fn request_routing_with_header_match_regex_and_weights() {
    for version in VERSIONS {
        let snapshot = compiled(version);
        let table = snapshot.routes("reviews", 9080, "default").expect(version);
        assert_eq!(table.virtual_service, "default/reviews");
        let http = &table.http;
        assert_eq!(http.len(), 3, "{version}: rule order kept");
        assert_eq!(
            http[0].matches[0].headers["end-user"].exact.as_deref(),
            Some("jason")
        );
        assert_eq!(
            http[0].route[0].destination.host, REVIEWS,
            "short name made canonical"
        );
        assert_eq!(http[0].route[0].destination.subset.as_deref(), Some("v2"));
        let regex = http[1].matches[0].headers["user-agent"]
            .regex
            .as_ref()
            .unwrap();
        assert!(regex.is_match("Mozilla/5.0 Chrome/120"));
        let weights: Vec<_> = http[2].route.iter().map(|r| r.weight).collect();
        assert_eq!(weights, [Some(50), Some(50)]);
    }
}

#[test]
fn every_spelling_of_a_host_and_its_cluster_ip_find_the_same_routes() {
    let snapshot = compiled("v1");
    let by_ip = snapshot.routes_at("10.96.0.20:9080".parse().unwrap(), "default");
    for host in ["reviews", "reviews.default", "reviews.default.svc", REVIEWS] {
        let table = snapshot.routes(host, 9080, "default").expect(host);
        assert!(std::ptr::eq(table, by_ip.unwrap()), "{host}");
    }
    assert!(
        snapshot.routes(REVIEWS, 9080, "other").is_some(),
        "exported everywhere"
    );
    assert!(
        snapshot.routes("reviews", 9080, "other").is_none(),
        "short name of another namespace"
    );
    assert!(snapshot.routes("productpage", 9080, "default").is_none());
}

#[test]
fn old_fault_spellings_become_percentages_and_retries_timeouts_read() {
    for version in VERSIONS {
        let snapshot = compiled(version);
        let reviews = snapshot.routes("reviews", 9080, "default").unwrap();
        let delay = reviews.http[0]
            .fault
            .as_ref()
            .unwrap()
            .delay
            .as_ref()
            .unwrap();
        assert_eq!(
            delay.percentage.as_ref().unwrap().value,
            100.0,
            "percent: 100"
        );
        assert_eq!(delay.fixed_delay.as_ref().unwrap().value.as_secs(), 7);
        let ratings = &snapshot.routes("ratings", 9080, "default").unwrap().http[0];
        let abort = ratings.fault.as_ref().unwrap().abort.as_ref().unwrap();
        assert_eq!(
            (abort.http_status, abort.percentage.as_ref().unwrap().value),
            (Some(500), 10.0)
        );
        assert_eq!(ratings.timeout.as_ref().unwrap().value.as_secs(), 10);
        let retries = ratings.retries.as_ref().unwrap();
        assert_eq!(
            (
                retries.attempts,
                retries.per_try_timeout.as_ref().unwrap().value.as_secs()
            ),
            (3, 2)
        );
    }
}

#[test]
fn mirror_without_percentage_mirrors_everything() {
    for version in VERSIONS {
        let snapshot = compiled(version);
        let rule = &snapshot.routes("httpbin", 8000, "default").unwrap().http[0];
        let mirror = rule.mirror.as_ref().unwrap();
        assert_eq!(
            (mirror.host.as_str(), mirror.subset.as_deref()),
            ("httpbin.default.svc.cluster.local", Some("v2"))
        );
        assert_eq!(rule.mirror_percentage.as_ref().unwrap().value, 100.0);
    }
}

#[test]
fn circuit_breaking_and_outlier_detection_merge_into_subset_clusters() {
    for version in VERSIONS {
        let snapshot = compiled(version);
        let v1 = snapshot.cluster(REVIEWS, 9080, Some("v1")).expect(version);
        let ip: SocketAddr = "10.0.0.11:9080".parse().unwrap();
        assert_eq!(v1.endpoints, [(Address::Ip(ip.ip()), 9080)]);
        let outlier = v1.policy.outlier_detection.as_ref().unwrap();
        assert_eq!(
            outlier.consecutive_errors,
            Some(1),
            "consecutiveErrors read, kept apart from consecutive5xxErrors"
        );
        assert_eq!(
            outlier.base_ejection_time.as_ref().unwrap().value.as_secs(),
            180
        );
        let pool = v1.policy.connection_pool.as_ref().unwrap();
        assert_eq!(pool.tcp.as_ref().unwrap().max_connections, Some(1));
        assert_eq!(
            pool.http.as_ref().unwrap().http1_max_pending_requests,
            Some(1)
        );
        let v3 = snapshot.cluster(REVIEWS, 9080, Some("v3")).unwrap();
        let lb = v3.policy.load_balancer.as_ref().unwrap().simple;
        assert_eq!(lb, Some(SimpleLb::Random), "subset over top level");
        assert!(
            v3.policy.connection_pool.is_some(),
            "top level kept where the subset is silent"
        );
        assert_eq!(
            snapshot
                .cluster(REVIEWS, 9080, None)
                .unwrap()
                .endpoints
                .len(),
            3
        );
    }
}

#[test]
fn service_entry_with_tls_route() {
    for version in VERSIONS {
        let snapshot = compiled(version);
        let table = snapshot
            .routes("edition.cnn.com", 443, "default")
            .expect(version);
        assert_eq!(table.tls[0].matches[0].sni_hosts, ["edition.cnn.com"]);
        let cluster = snapshot.cluster("edition.cnn.com", 443, None).unwrap();
        assert_eq!(
            cluster.endpoints,
            [(Address::Dns("edition.cnn.com".into()), 443)]
        );
        assert!(
            snapshot
                .service("edition.cnn.com", "default")
                .unwrap()
                .external
        );
    }
}

#[test]
fn gateway_routes_bind_to_their_gateway_only() {
    for version in VERSIONS {
        let snapshot = compiled(version);
        let gw = "default/httpbin-gateway";
        let table = snapshot
            .gateway_routes(gw, "httpbin.example.com", 80)
            .expect(version);
        assert_eq!(
            table.http[0].matches[0]
                .uri
                .as_ref()
                .unwrap()
                .prefix
                .as_deref(),
            Some("/status")
        );
        assert!(
            snapshot
                .routes("httpbin.example.com", 80, "default")
                .is_none(),
            "not on the mesh"
        );
        assert!(
            snapshot.gateway_routes(gw, "httpbin", 8000).is_some(),
            "mesh + gateway VS"
        );
        assert_eq!(
            snapshot.gateways()[gw].gateway.spec.servers[0].port.number,
            80
        );
    }
}

#[test]
fn mesh_config_and_workloads_are_read() {
    let snapshot = compiled("v1");
    assert_eq!(
        snapshot.outbound_mode("default"),
        OutboundMode::RegistryOnly
    );
    assert!(snapshot.mesh.access_log_enabled());
    let workload = snapshot.workload("10.0.0.12".parse().unwrap()).unwrap();
    assert_eq!(
        (workload.name.as_str(), workload.version.as_deref()),
        ("reviews-v2", Some("v2"))
    );
    let _ = ClientTlsMode::IstioMutual;
}

#[test]
fn the_snapshot_serializes_for_config_dump() {
    let dump = serde_json::to_value(compiled("v1")).unwrap();
    assert!(dump["routes"][REVIEWS].is_array(), "{dump:#}");
    assert!(dump["rejected"].as_array().unwrap().is_empty());
}
