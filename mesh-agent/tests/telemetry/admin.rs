//! The admin endpoints over real HTTP on loopback: readiness, `/metrics` with the eBPF
//! counters read on scrape, and `/config_dump`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mesh_agent::admin::{self, AdminServer, Readiness};
use mesh_agent::pipeline::ConfigState;
use prometheus_client::registry::Registry;

use crate::harness::client::raw;
use crate::harness::config::compile;

async fn get(addr: SocketAddr, path: &str) -> String {
    raw(addr, "GET", path).await
}

async fn serve(routes: admin::Routes) -> SocketAddr {
    let server = AdminServer::new("127.0.0.1:0".parse().unwrap(), routes)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run());
    addr
}

#[tokio::test]
async fn ready_only_with_capture_attached_and_config_loaded() {
    let config = ConfigState::default();
    let readiness = Arc::new(Readiness::new(config.clone()));
    let addr = serve(admin::ready_routes(readiness.clone())).await;
    assert!(get(addr, "/healthz/ready")
        .await
        .starts_with("HTTP/1.1 503"));
    readiness.set_capture_attached(true);
    assert!(
        get(addr, "/healthz/ready")
            .await
            .starts_with("HTTP/1.1 503"),
        "config not loaded"
    );
    config.apply(&Default::default());
    assert!(get(addr, "/healthz/ready")
        .await
        .starts_with("HTTP/1.1 200"));
    assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
}

#[tokio::test]
async fn metrics_export_ebpf_counters_read_on_each_scrape() {
    let captured = Arc::new(AtomicU64::new(3));
    let mut registry = Registry::default();
    let source = captured.clone();
    mesh_agent::metrics::register_ebpf_counters(
        &mut registry,
        Arc::new(move || {
            vec![
                ("captured_outbound", source.load(Ordering::Relaxed)),
                ("errors", 0),
            ]
        }),
    );
    let addr = serve(admin::metrics_routes(Arc::new(registry))).await;
    let first = get(addr, "/metrics").await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(
        first.contains("\nmesh_ebpf_captured_outbound_total 3\n"),
        "{first}"
    );
    assert!(first.contains("\nmesh_ebpf_errors_total 0\n"), "{first}");
    captured.store(7, Ordering::Relaxed);
    assert!(get(addr, "/metrics")
        .await
        .contains("\nmesh_ebpf_captured_outbound_total 7\n"));
}

#[tokio::test]
async fn config_dump_serves_the_snapshot_with_rejected_resources_and_source_problems() {
    let state = compile(CONFIG);
    let broken = mesh_agent::document::SourceProblem {
        origin: mesh_agent::document::Origin::file("broken.yaml", 3),
        message: "did not find expected key".into(),
    };
    let documents = mesh_agent::document::parse_documents(
        std::path::Path::new("test.yaml"),
        &format!("{CONFIG}---\n{BAD_ROUTE}"),
    )
    .unwrap();
    state.apply(&mesh_agent::document::SourceUpdate {
        resources: Arc::new(documents),
        problems: Arc::new(vec![broken]),
    });
    let addr = serve(admin::config_dump_routes(state)).await;
    let response = get(addr, "/config_dump").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("content-type: application/json"),
        "{response}"
    );
    let body = response.split_once("\r\n\r\n").unwrap().1;
    let dump: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(dump["loaded"], true);
    let hostname = &dump["snapshot"]["registry"]["services"][0]["hostname"];
    assert_eq!(hostname, "web.shop.svc.cluster.local");
    let rejected = &dump["snapshot"]["rejected"][0];
    assert_eq!(rejected["resource"], "VirtualService/shop/web-routes");
    let reasons = rejected["reasons"].to_string();
    assert!(reasons.contains("subset"), "{reasons}");
    let source = &dump["last_reload"]["source_problems"][0];
    assert_eq!(source["message"], "did not find expected key");
    assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
}

const CONFIG: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.0.10, selector: {app: web}, ports: [{port: 80}]}
"#;

/// Names a subset no DestinationRule defines: rejected.
const BAD_ROUTE: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web-routes, namespace: shop}
spec:
  hosts: [web]
  http:
  - route:
    - destination: {host: web, subset: v9}
"#;
