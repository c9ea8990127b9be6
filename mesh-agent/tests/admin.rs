//! The admin endpoints over real HTTP on loopback: readiness and `/metrics` with the eBPF
//! counters read on scrape.

mod agent_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use agent_support::*;
use mesh_agent::admin::{self, AdminServer, Readiness};
use mesh_agent::discovery::{Discovery, Snapshot};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: SocketAddr, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    tokio::time::timeout(GUARD, exchange)
        .await
        .expect("no hang")
}

async fn serve(routes: admin::Routes) -> SocketAddr {
    let server = AdminServer::new("127.0.0.1:0".parse().unwrap(), routes)
        .await
        .unwrap();
    let addr = server.address();
    tokio::spawn(server.run());
    addr
}

#[tokio::test]
async fn ready_only_with_capture_attached_and_config_loaded() {
    let discovery = Discovery::default();
    let readiness = Arc::new(Readiness::new(discovery.clone()));
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
    discovery.replace(Snapshot::default());
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
