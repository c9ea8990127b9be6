//! `mesh-agent run`: load configuration, attach capture, serve enrollment, metrics and
//! readiness until SIGINT/SIGTERM, then shut down failing open.

use std::sync::Arc;

use mesh_common::AGENT_SOCKET_MARK;
use prometheus_client::registry::Registry;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;

use crate::admin::{self, AdminServer, Readiness};
use crate::attach::start_capture;
use crate::config::AgentConfig;
use crate::discovery::{Discovery, FileSource};
use crate::enroll::EnrollServer;
use crate::metrics;
use crate::pods::{EnrolledPods, ListenAddrs};
use crate::proxy::{ProxyInputs, TcpMetrics, UpstreamSockets};

/// Runs the agent until SIGINT or SIGTERM.
///
/// Shutdown fails open: the agent stops accepting enrollments and scrapes, unenrolls every pod
/// (their map entries and `sk_lookup` links go, their listeners close), then drops the capture
/// programs' links. From then on the pods' connections go directly to their destinations,
/// unproxied; connections the agent was carrying are closed with it.
pub async fn run(config: AgentConfig) -> anyhow::Result<()> {
    tracing::info!(config = %serde_json::to_string(&config)?, "mesh-agent starting");
    let mut registry = Registry::default();
    let discovery = Discovery::default();
    let mut source = FileSource::new(config.config_dir.clone(), discovery.clone());
    if let Err(error) = source.poll() {
        tracing::error!(%error, "config not loaded; not ready until it is");
    }
    let readiness = Arc::new(Readiness::new(discovery.clone()));

    let capture = start_capture(&config)?;
    readiness.set_capture_attached(true);
    metrics::register_ebpf_counters(&mut registry, capture.counters.clone());

    let inputs = Arc::new(ProxyInputs {
        original_dsts: capture.original_dsts.clone(),
        discovery,
        metrics: TcpMetrics::register(&mut registry),
        sockets: UpstreamSockets {
            mark: Some(AGENT_SOCKET_MARK),
            connect_timeout: config.connect_timeout,
        },
        on_outbound_accept: capture.accelerate.clone(),
        http: crate::http::HttpInputs::register(&mut registry, crate::http::DEFAULT_DETECT_WINDOW),
    });
    let pods = Arc::new(EnrolledPods::new(
        capture.pods.clone(),
        inputs,
        ListenAddrs::default(),
        &mut registry,
    ));
    let metrics_routes = admin::metrics_routes(Arc::new(registry));
    let metrics_server = AdminServer::new(config.metrics_addr, metrics_routes).await?;
    let ready_server = AdminServer::new(config.ready_addr, admin::ready_routes(readiness)).await?;
    let enroll_server = EnrollServer::new(&config.enroll_socket)?;
    tracing::info!(
        metrics = %metrics_server.address(),
        ready = %ready_server.address(),
        enroll = %enroll_server.address().display(),
        "serving"
    );

    let mut tasks = JoinSet::new();
    tasks.spawn(source.run(config.config_poll_interval));
    tasks.spawn(metrics_server.run());
    tasks.spawn(ready_server.run());
    tasks.spawn(enroll_server.run(pods.clone()));

    let signal = shutdown_signal().await?;
    tracing::info!(
        signal,
        "shutting down: unenrolling pods, detaching capture (fail open)"
    );
    tasks.shutdown().await;
    pods.remove_all().await;
    drop(pods);
    drop(capture);
    tracing::info!("mesh-agent stopped");
    Ok(())
}

/// Waits for SIGINT or SIGTERM and names it.
async fn shutdown_signal() -> std::io::Result<&'static str> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    })
}
