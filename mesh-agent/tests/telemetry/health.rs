//! `/healthz/ready` and `/healthz/live` over real HTTP with the agent's lifecycle: unready while
//! draining; an essential task that ends makes the agent unready and not live, and its metric
//! says so. (A blocked runtime worker failing the watchdog: `lifecycle::watchdog`'s unit tests.)

use std::sync::Arc;
use std::time::Duration;

use mesh_agent::admin::{self, AdminServer, Readiness};
use mesh_agent::drain::{Drain, Phase};
use mesh_agent::lifecycle::{Liveness, Supervisor};
use prometheus_client::registry::Registry;

use crate::harness::client::raw;
use crate::harness::config::compile;
use crate::harness::wait_for;

async fn status(addr: std::net::SocketAddr, path: &str) -> String {
    raw(addr, "GET", path).await
}

/// A ready agent's health endpoints, its drain and its supervisor.
async fn ready_agent(registry: &mut Registry) -> (std::net::SocketAddr, Drain, Supervisor) {
    let supervisor = Supervisor::new(registry);
    let drain = Drain::default();
    let every = Duration::from_millis(20);
    let liveness = Liveness::watch(
        tokio::runtime::Handle::current(),
        supervisor.health(),
        every,
        Duration::from_secs(5),
    );
    let readiness =
        Readiness::new(compile("")).watching(drain.clone(), supervisor.health(), liveness);
    readiness.set_capture_attached(true);
    let routes = admin::ready_routes(Arc::new(readiness));
    let server = AdminServer::new("127.0.0.1:0".parse().unwrap(), routes)
        .await
        .unwrap();
    let addr = server.address().parse().expect("a TCP address");
    tokio::spawn(server.run());
    (addr, drain, supervisor)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unready_while_draining_and_still_live() {
    let mut registry = Registry::default();
    let (addr, drain, _supervisor) = ready_agent(&mut registry).await;
    assert!(status(addr, "/healthz/ready")
        .await
        .starts_with("HTTP/1.1 200"));
    assert!(status(addr, "/healthz/live")
        .await
        .starts_with("HTTP/1.1 200"));
    drain.enter(Phase::Draining);
    assert!(status(addr, "/healthz/ready")
        .await
        .starts_with("HTTP/1.1 503"));
    assert!(status(addr, "/healthz/live")
        .await
        .starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_essential_task_that_ends_makes_the_agent_unready_and_not_live() {
    let mut registry = Registry::default();
    let (addr, _drain, mut supervisor) = ready_agent(&mut registry).await;
    let (end, ended) = tokio::sync::oneshot::channel::<()>();
    supervisor.essential("config-source", async {
        let _ = ended.await;
    });
    assert!(status(addr, "/healthz/live")
        .await
        .starts_with("HTTP/1.1 200"));
    drop(end);
    let metrics = || crate::harness::metrics::text(&registry);
    let reported = wait_for(true, || {
        metrics().contains("mesh_agent_task_up{task=\"config-source\"} 0")
    })
    .await;
    assert!(reported, "{}", metrics());
    let live = status(addr, "/healthz/live").await;
    assert!(live.starts_with("HTTP/1.1 503"), "{live}");
    assert!(live.contains("config-source"), "{live}");
    assert!(status(addr, "/healthz/ready")
        .await
        .starts_with("HTTP/1.1 503"));
}
