//! The loopback admin server's `/logging` and `/stats/prometheus` over real HTTP: the level
//! changes at run time through POST, and the stats are the `/metrics` text.

use std::sync::{Arc, Mutex};

use mesh_agent::admin::{self, AdminServer};
use mesh_agent::admin_routes::AgentEndpoints;
use mesh_agent::logging::LogLevels;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use crate::harness::client::raw as send;

#[tokio::test]
async fn logging_and_stats_answer_on_the_admin_server_beside_its_routes() {
    let mut registry = Registry::default();
    let requests = Counter::<u64>::default();
    requests.inc_by(7);
    registry.register("istio_requests", "Requests", requests);
    let registry = Arc::new(registry);
    let filters = Arc::new(Mutex::new(Vec::new()));
    let seen = filters.clone();
    let levels = LogLevels::new("info".into(), move |filter| {
        seen.lock().unwrap().push(filter.to_string());
        Ok(())
    });
    let endpoints = AgentEndpoints::new(registry.clone(), Some(levels));
    let server = AdminServer::new(
        "127.0.0.1:0".parse().unwrap(),
        admin::metrics_routes(registry),
    )
    .await
    .unwrap()
    .with_agent_endpoints(endpoints);
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run());

    let stats = send(addr, "GET", "/stats/prometheus").await;
    assert!(stats.starts_with("HTTP/1.1 200"), "{stats}");
    assert!(
        stats.contains("\r\n\r\n# HELP istio_requests Requests"),
        "{stats}"
    );
    assert!(stats.contains("istio_requests_total 7"), "{stats}");
    let metrics = send(addr, "GET", "/metrics").await;
    assert!(
        metrics.contains("istio_requests_total 7"),
        "the table's own routes still answer"
    );

    let shown = send(addr, "GET", "/logging").await;
    assert!(
        shown.starts_with("HTTP/1.1 200") && shown.ends_with("  info\n"),
        "{shown}"
    );
    let changed = send(addr, "POST", "/logging?level=debug").await;
    assert!(
        changed.starts_with("HTTP/1.1 200") && changed.ends_with("  debug\n"),
        "{changed}"
    );
    assert_eq!(*filters.lock().unwrap(), ["debug"]);
    let refused = send(addr, "POST", "/logging?level=chatty").await;
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    assert!(send(addr, "GET", "/logging").await.ends_with("  debug\n"));
}
