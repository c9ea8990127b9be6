//! `mesh-agent run`: load configuration, attach capture, serve enrollment, metrics, admin and
//! readiness until SIGINT/SIGTERM, then shut down failing open.

use std::sync::Arc;

use anyhow::Context as _;

use prometheus_client::registry::Registry;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;

use crate::admin::{self, AdminServer, Readiness};
use crate::admin_routes::AgentEndpoints;
use crate::attach::start_capture;
use crate::config::{AgentConfig, ConfigSource};
use crate::enroll::{Admission, EnrollServer, Enrollment, EnrollmentSettings, StateDir};
use crate::metrics;
use crate::net::UpstreamSockets;
use crate::pipeline::{ConfigMetrics, ConfigState};
use crate::pods::{EnrolledPods, ListenAddrs};
use crate::proxy::{ProxyInputs, TcpMetrics};
use crate::snapshot::LoadSettings;
use crate::sources::{DirectorySource, KubernetesSource};

/// Runs the agent until SIGINT or SIGTERM.
///
/// Shutdown fails open: the agent stops accepting enrollments and scrapes, unenrolls every pod
/// (their map entries and `sk_lookup` links go, their listeners close), then drops the capture
/// programs' links. From then on the pods' connections go directly to their destinations,
/// unproxied; connections the agent was carrying are closed with it.
pub async fn run(config: AgentConfig) -> anyhow::Result<()> {
    tracing::info!(config = %serde_json::to_string(&config)?, "mesh-agent starting");
    let inheritance = crate::upgrade::take_over(&config)?;
    let mut registry = Registry::default();
    let mut tasks = JoinSet::new();
    let config_state = ConfigState::with_load_settings(LoadSettings {
        access_log_dir: config.access_log_dir.clone(),
    });
    start_config(&config, &config_state, &mut registry, &mut tasks).await?;
    let readiness = Arc::new(Readiness::new(config_state.clone()));

    let capture = start_capture(&config, inheritance.is_some())?;
    readiness.set_capture_attached(true);
    metrics::register_ebpf_counters(&mut registry, capture.counters.clone());

    let inputs = Arc::new(ProxyInputs {
        original_dsts: capture.original_dsts.clone(),
        config: config_state.clone(),
        metrics: TcpMetrics::register(&mut registry),
        sockets: UpstreamSockets {
            connect_timeout: config.connect_timeout,
        },
        on_outbound_accept: capture.accelerate.clone(),
        local_pods: crate::proxy::LocalPods::new(config.same_node_fast_path),
        http: crate::http::HttpInputs::register(&mut registry, crate::http::DEFAULT_DETECT_WINDOW),
    });
    let resilience = inputs.http.traffic.resilience.clone();
    follow_snapshots(&inputs, &config_state, &mut tasks);
    let gateway = crate::gateway::IngressGateway::new(gateway_inputs(&config, &inputs))?;
    let pods = Arc::new(EnrolledPods::new(
        capture.pods.clone(),
        inputs,
        ListenAddrs::default(),
        &mut registry,
    ));
    start_enrollment(&config, &pods, &config_state, &mut registry, &mut tasks)?;
    let pod_index = crate::flows::PodIndex::default();
    let flows = capture.flows.clone();
    crate::flows::register(
        &mut registry,
        flows,
        pod_index.clone(),
        config_state.clone(),
    );
    tasks.spawn(pod_index.follow(pods.clone(), crate::flows::POD_INDEX_REFRESH));
    let registry = Arc::new(registry);
    let metrics_routes = admin::metrics_routes(registry.clone());
    let metrics_server = AdminServer::new(config.metrics_addr, metrics_routes).await?;
    let ready_server =
        AdminServer::new(config.ready_addr, admin::ready_routes(readiness.clone())).await?;
    let admin_routes = crate::admin_clusters::with_clusters(
        admin::config_dump_routes(config_state.clone()),
        config_state,
        resilience,
    );
    let agent_endpoints = AgentEndpoints::new(registry, crate::logging::LogLevels::installed());
    let admin_server = AdminServer::unix(&config.admin_socket, admin_routes)?
        .with_agent_endpoints(agent_endpoints);
    tracing::info!(
        metrics = %metrics_server.address(),
        ready = %ready_server.address(),
        admin = %admin_server.address(),
        "serving"
    );

    tasks.spawn(metrics_server.run());
    tasks.spawn(admin_server.run());
    tasks.spawn(ready_server.run());
    tasks.spawn(gateway.run(crate::gateway::GATEWAY_REFRESH));

    let handover = crate::upgrade::serve(inheritance, &readiness, &config).await?;
    run_until_the_end(handover, tasks, &pods, &capture).await?;
    drop(pods);
    drop(capture);
    tracing::info!("mesh-agent stopped");
    Ok(())
}

/// Serves until SIGINT/SIGTERM (fail open: pods unenrolled) or until a successor is ready (pods
/// and maps left to it; the connections left drain).
async fn run_until_the_end(
    mut handover: crate::handover::HandoverServer,
    mut tasks: JoinSet<()>,
    pods: &EnrolledPods,
    capture: &crate::attach::Capture,
) -> anyhow::Result<()> {
    tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!(signal = signal?, "shutting down: unenrolling pods, detaching capture (fail open)");
            tasks.shutdown().await;
            pods.remove_all().await;
            handover.remove();
        }
        Some(successor) = handover.successor() => {
            tasks.shutdown().await;
            crate::upgrade::leave(successor, pods, capture).await?;
            let drained = tokio::time::sleep(crate::upgrade::DRAIN_AFTER_HAND_OVER);
            tokio::select! { () = drained => {}, _ = shutdown_signal() => {} }
        }
    }
    Ok(())
}

/// Serves the enrollment socket and reconciles the enrolled pods with the view (at once: a
/// restarted agent recovers its pods from its records and the node's netns).
fn start_enrollment(
    config: &AgentConfig,
    pods: &Arc<EnrolledPods>,
    config_state: &ConfigState,
    registry: &mut Registry,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<()> {
    let settings = EnrollmentSettings {
        node_name: config.node_name.clone(),
        state: StateDir::open(&config.state_dir)
            .with_context(|| format!("--state-dir {}", config.state_dir.display()))?,
        admission: Admission::default(),
        pod_wait: crate::enroll::POD_WAIT,
    };
    let enrollment = Enrollment::new(pods.clone(), config_state.clone(), settings, registry);
    let enrollment = Arc::new(enrollment);
    let server = EnrollServer::new(&config.enroll_socket)
        .with_context(|| format!("--enroll-socket {}", config.enroll_socket.display()))?;
    tracing::info!(socket = %server.address().display(), state = %config.state_dir.display(), "enrollment serving");
    tasks.spawn(server.run(enrollment.clone()));
    tasks.spawn(enrollment.follow());
    Ok(())
}

/// The ingress gateway listens on every address of the node's netns, where the agent runs.
fn gateway_inputs(config: &AgentConfig, inputs: &ProxyInputs) -> crate::gateway::GatewayInputs {
    crate::gateway::GatewayInputs {
        config: inputs.config.clone(),
        http: inputs.http.clone(),
        sockets: inputs.sockets.clone(),
        labels: config.gateway_labels.clone(),
        address: std::net::Ipv4Addr::UNSPECIFIED.into(),
    }
}

/// Starts the configured source and the pipeline feeding `state` from it, their metrics in
/// `registry`. The agent is not ready until the source's first set is compiled.
async fn start_config(
    config: &AgentConfig,
    state: &ConfigState,
    registry: &mut Registry,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<()> {
    let metrics = ConfigMetrics::register(registry);
    let updates = match &config.source {
        ConfigSource::Directory(dir) => {
            let source = DirectorySource::new(dir.clone());
            let updates = source.subscribe();
            tasks.spawn(source.run());
            updates
        }
        ConfigSource::Kubernetes => {
            let source = KubernetesSource::from_environment(config.node_name.clone())
                .await?
                .secret_namespaces(&config.secret_namespaces)
                .register_metrics(registry);
            let updates = source.subscribe();
            tasks.spawn(source.run());
            updates
        }
    };
    tasks.spawn(crate::pipeline::run(updates, state.clone(), metrics));
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

/// What changes with every snapshot swapped in, beyond the lookups that read it per connection.
fn follow_snapshots(inputs: &ProxyInputs, config: &ConfigState, tasks: &mut JoinSet<()>) {
    // Tracing and access logs follow the mesh config and the Telemetry resources.
    tasks.spawn(inputs.http.observers.clone().follow(config.clone()));
    // Balancers of clusters a reload removed go with them.
    let balancers = inputs.http.traffic.balancers.clone();
    tasks.spawn(balancers.follow(config.clone()));
}
