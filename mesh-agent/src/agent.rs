//! `mesh-agent run`: load configuration, attach capture, serve enrollment, metrics, admin and
//! readiness, its tasks supervised, until SIGINT/SIGTERM; then drain and shut down failing open.

use std::sync::Arc;

use anyhow::Context as _;

use prometheus_client::registry::Registry;
use tokio::signal::unix::{signal, SignalKind};

use crate::admin::{self, AdminServer, Readiness};
use crate::admin_routes::AgentEndpoints;
use crate::attach::start_capture;
use crate::config::{AgentConfig, ConfigSource};
use crate::dns::NameLookup;
use crate::drain::Drain;
use crate::enroll::{Admission, EnrollServer, Enrollment, EnrollmentSettings, StateDir};
use crate::lifecycle::{watchdog, Liveness, Supervisor};
use crate::metrics;
use crate::net::UpstreamSockets;
use crate::pipeline::{ConfigMetrics, ConfigState};
use crate::pods::{EnrolledPods, ListenAddrs};
use crate::proxy::{ConnectionCaps, ProxyInputs, TcpMetrics};
use crate::snapshot::LoadSettings;
use crate::sources::{DirectorySource, KubernetesSource};

/// Runs the agent until SIGINT or SIGTERM, then drains.
///
/// Its tasks are supervised (`lifecycle::supervise`); a watchdog thread checks the runtime's
/// workers for `/healthz/live`. Shutdown drains and fails open (`lifecycle::shutdown`): the
/// agent stops accepting enrollments, unenrolls every pod (their map entries and `sk_lookup`
/// links go, their listeners close, so new connections go direct), lets the connections it
/// carries finish within `--drain-time`, closes the rest, then drops the capture programs' links.
/// With `--fail-closed` the pods stay enrolled and the links stay pinned: only the listeners
/// close, and the pods' new connections are refused until the next agent serves them.
pub async fn run(config: AgentConfig) -> anyhow::Result<()> {
    let locality = own_locality(&config).await;
    let config = AgentConfig { locality, ..config };
    tracing::info!(config = %serde_json::to_string(&config)?, "mesh-agent starting");
    raise_open_files_limit();
    let inheritance = crate::upgrade::take_over(&config)?;
    let mut registry = Registry::default();
    let mut tasks = Supervisor::new(&mut registry);
    let config_state = ConfigState::with_load_settings(LoadSettings {
        access_log_dir: config.access_log_dir.clone(),
        tls_file_dir: config.tls_file_dir.clone(),
        ..LoadSettings::default()
    });
    start_config(&config, &config_state, &mut registry, &mut tasks).await?;
    let certificates = crate::certs::settings::start(config.ca.as_ref(), &mut registry);

    let capture = start_capture(&config, inheritance.is_some())?;
    metrics::register_ebpf_counters(&mut registry, capture.counters.clone());

    let inputs = proxy_inputs(
        &config,
        &config_state,
        &capture,
        certificates.as_ref(),
        &mut registry,
    );
    let drain = inputs.http.drain.clone();
    let readiness = Arc::new(readiness(&config_state, &drain, &tasks));
    readiness.set_capture_attached(true);
    let resilience = inputs.http.traffic.resilience.clone();
    follow_snapshots(&inputs, &config_state, &mut tasks);
    let gateway_inputs = gateway_inputs(&config, &inputs, &mut registry);
    let gateway = crate::gateway::IngressGateway::new(gateway_inputs)?;
    let pods = Arc::new(EnrolledPods::new(
        capture.pods.clone(),
        inputs,
        ListenAddrs::default(),
        &mut registry,
    ));
    let enrolling = start_enrollment(
        &config,
        &pods,
        certificates.clone(),
        &config_state,
        &mut registry,
        &mut tasks,
    )?;
    follow_flows(&mut registry, &capture, &pods, &config_state, &mut tasks);
    let proven = certificates.is_some();
    follow_connect_policies(&config_state, &pods, &capture, proven, &mut tasks);
    let registry = Arc::new(registry);
    let metrics_routes = admin::metrics_routes(registry.clone());
    let metrics_server = AdminServer::new(config.metrics_addr, metrics_routes).await?;
    let ready_server =
        AdminServer::new(config.ready_addr, admin::ready_routes(readiness.clone())).await?;
    let admin_server = admin_server(&config, config_state, resilience, registry, certificates)?;
    tracing::info!(
        metrics = %metrics_server.address(),
        ready = %ready_server.address(),
        admin = %admin_server.address(),
        "serving"
    );

    tasks.essential("metrics-server", metrics_server.run());
    tasks.essential("admin-server", admin_server.run());
    tasks.essential("ready-server", ready_server.run());
    tasks.essential("gateway", gateway.run(crate::gateway::GATEWAY_REFRESH));
    tasks.essential("heap-trim", crate::memory::give_back_freed_heap());

    let handover = crate::upgrade::serve(inheritance, &readiness, &config).await?;
    let ending = Ending {
        pods: &pods,
        capture: &capture,
        drain: &drain,
        drain_time: config.drain_time,
        failure_mode: config.failure_mode,
        enrolling,
    };
    run_until_the_end(handover, tasks, ending).await?;
    drop(pods);
    drop(capture);
    tracing::info!("mesh-agent stopped");
    Ok(())
}

/// Lets the agent hold two sockets per proxied connection for many connections.
fn raise_open_files_limit() {
    match crate::net::raise_open_files_limit() {
        Ok(files) => tracing::info!(before = files.before, now = files.after, "open files limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open files limit"),
    }
}

/// Keeps the connect() hook's maps in step with the snapshot and the enrolled pods: the
/// REGISTRY_ONLY egress policies and the denials the destinations' policies make for sure
/// (`proven`: the node has workload certificates, so the tunnel proves the pods' identities).
fn follow_connect_policies(
    config_state: &ConfigState,
    pods: &Arc<EnrolledPods>,
    capture: &crate::attach::Capture,
    proven: bool,
    tasks: &mut Supervisor,
) {
    let egress = crate::egress::run(config_state.clone(), pods.clone(), capture.egress.clone());
    tasks.essential("egress-policies", egress);
    let denied = capture.denied.clone();
    let denials = crate::connect_authz::run(config_state.clone(), pods.clone(), denied, proven);
    tasks.essential("connect-denials", denials);
}

/// What every pod's listeners share: the capture's maps, the config, the metrics, the
/// tunnels, the HTTP inputs and the connection caps.
fn proxy_inputs(
    config: &AgentConfig,
    config_state: &ConfigState,
    capture: &crate::attach::Capture,
    certificates: Option<&Arc<crate::certs::NodeCertificates>>,
    registry: &mut Registry,
) -> Arc<ProxyInputs> {
    Arc::new(ProxyInputs {
        original_dsts: capture.original_dsts.clone(),
        config: config_state.clone(),
        metrics: TcpMetrics::register(registry),
        sockets: UpstreamSockets {
            connect_timeout: config.connect_timeout,
        },
        on_outbound_accept: capture.accelerate.clone(),
        splice: capture.splice.clone(),
        local_pods: crate::proxy::LocalPods::new(config.same_node_fast_path),
        tunnels: tunnels(certificates, config.l7_once_per_request),
        http: http_inputs(config, registry),
        caps: Arc::new(
            ConnectionCaps::new(config.max_connections, config.max_connections_per_pod)
                .with_handshakes_per_second(config.max_handshakes_per_second)
                .register(registry),
        ),
        direct_connect_warnings: Arc::default(),
    })
}

/// The admin socket's server: `/config_dump`, `/clusters`, `/logging`, `/stats/prometheus`,
/// `/certs`.
fn admin_server(
    config: &AgentConfig,
    config_state: ConfigState,
    resilience: crate::http::Resilience,
    registry: Arc<Registry>,
    certificates: Option<Arc<crate::certs::NodeCertificates>>,
) -> anyhow::Result<AdminServer> {
    let routes = crate::admin_clusters::with_clusters(
        admin::config_dump_routes(config_state.clone()),
        config_state,
        resilience,
    );
    let endpoints = AgentEndpoints::new(registry, crate::logging::LogLevels::installed())
        .with_certificates(certificates);
    Ok(AdminServer::unix(&config.admin_socket, routes)?.with_agent_endpoints(endpoints))
}

/// The mTLS tunnel between agents, when the node has workload certificates (`--ca-address`).
fn tunnels(
    certificates: Option<&Arc<crate::certs::NodeCertificates>>,
    l7_once_per_request: bool,
) -> Option<Arc<crate::tunnel::Tunnels>> {
    let certificates: Arc<dyn crate::identity::WorkloadCertificates> = certificates?.clone();
    let settings = crate::tunnel::TunnelSettings {
        offer_l7_report: l7_once_per_request,
        ..crate::tunnel::TunnelSettings::default()
    };
    Some(Arc::new(crate::tunnel::Tunnels::new(
        certificates,
        settings,
    )))
}

/// What the agent's end needs.
struct Ending<'a> {
    pods: &'a EnrolledPods,
    capture: &'a crate::attach::Capture,
    drain: &'a Drain,
    drain_time: std::time::Duration,
    /// Whether the pods are unenrolled (fail open) or left captured (fail closed) on shutdown.
    failure_mode: crate::lifecycle::FailureMode,
    /// The enrollment server and reconcile, stopped first.
    enrolling: [tokio::task::AbortHandle; 2],
}

/// Serves until SIGINT/SIGTERM, then drains failing open (pods unenrolled first) or closed (pods
/// left captured, their listeners closed), or until a
/// successor is ready: then the pods and maps are left to it and only the connections this agent
/// carries drain. A second signal ends either drain at once.
async fn run_until_the_end(
    mut handover: crate::handover::HandoverServer,
    mut tasks: Supervisor,
    end: Ending<'_>,
) -> anyhow::Result<()> {
    let second_signal = async {
        let _ = shutdown_signal().await;
    };
    tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!(signal = signal?, drain_time = ?end.drain_time, failure_mode = ?end.failure_mode, "shutting down: draining");
            end.enrolling.iter().for_each(tokio::task::AbortHandle::abort);
            let (pods, mode) = (end.pods, end.failure_mode);
            crate::lifecycle::shutdown::drain(pods, mode, end.drain, end.drain_time, second_signal).await;
            tasks.shutdown().await;
            handover.remove();
        }
        Some(successor) = handover.successor() => {
            end.enrolling.iter().for_each(tokio::task::AbortHandle::abort);
            tasks.shutdown().await;
            crate::upgrade::leave(successor, end.pods, end.capture).await?;
            // The first SIGTERM now is the orchestrator retiring the old pod (a DaemonSet once
            // the successor's pod is ready): the drain goes on; a second one ends it.
            crate::lifecycle::shutdown::drain_connections(end.drain, end.drain_time, nth_signal(2)).await;
        }
    }
    Ok(())
}

/// Serves the enrollment socket and reconciles the enrolled pods with the view (at once: a
/// restarted agent recovers its pods from its records and the node's netns). The handles stop
/// both when draining starts: a drained pod must not be enrolled again.
fn start_enrollment(
    config: &AgentConfig,
    pods: &Arc<EnrolledPods>,
    certificates: Option<Arc<crate::certs::NodeCertificates>>,
    config_state: &ConfigState,
    registry: &mut Registry,
    tasks: &mut Supervisor,
) -> anyhow::Result<[tokio::task::AbortHandle; 2]> {
    let settings = EnrollmentSettings {
        node_name: config.node_name.clone(),
        state: StateDir::open(&config.state_dir)
            .with_context(|| format!("--state-dir {}", config.state_dir.display()))?,
        admission: Admission::default(),
        pod_wait: crate::enroll::POD_WAIT,
    };
    let enrollment = Enrollment::new(pods.clone(), config_state.clone(), settings, registry)
        .with_certificates(certificates);
    let enrollment = Arc::new(enrollment);
    let server = EnrollServer::new(&config.enroll_socket)
        .with_context(|| format!("--enroll-socket {}", config.enroll_socket.display()))?;
    tracing::info!(socket = %server.address().display(), state = %config.state_dir.display(), "enrollment serving");
    let serving = tasks.essential("enroll-server", server.run(enrollment.clone()));
    let reconciling = tasks.essential("enroll-reconcile", enrollment.follow());
    Ok([serving, reconciling])
}

/// Readiness over `config`, unready while draining or once an essential task ended; its
/// `/healthz/live` from a watchdog over this runtime's workers.
/// Where this node runs: `--locality`, else (Kubernetes) its Node's topology labels, read once;
/// unknown when they cannot be read (warned: localities are then not compared).
async fn own_locality(config: &AgentConfig) -> Option<crate::lb::locality::Locality> {
    if config.locality.is_some() || !matches!(config.source, ConfigSource::Kubernetes) {
        return config.locality.clone();
    }
    let labels = async {
        let client = kube::Client::try_default().await?;
        crate::sources::kubernetes::node_labels(&client, &config.node_name).await
    };
    match labels.await {
        Ok(labels) => crate::lb::locality::Locality::of_node(&labels),
        Err(error) => {
            tracing::warn!(node = %config.node_name, %error,
                "reading the node's topology labels failed: locality-aware balancing is off");
            None
        }
    }
}

/// The HTTP path's shared inputs, with the downstream timeouts of `config`.
fn http_inputs(config: &AgentConfig, registry: &mut Registry) -> Arc<crate::http::HttpInputs> {
    let http = crate::http::HttpInputs::register(registry, crate::http::DEFAULT_DETECT_WINDOW);
    let http = Arc::into_inner(http).expect("just made");
    http.request_caps
        .set_per_pod(config.max_requests_in_flight_per_pod);
    let balancers = crate::lb::Balancers::default().at_locality(config.locality.clone());
    Arc::new(crate::http::HttpInputs {
        downstream: config.downstream,
        traffic: crate::http::TrafficInputs {
            balancers: Arc::new(balancers),
            ..http.traffic
        },
        ..http
    })
}

fn readiness(config: &ConfigState, drain: &Drain, tasks: &Supervisor) -> Readiness {
    let liveness = Liveness::watch(
        tokio::runtime::Handle::current(),
        tasks.health(),
        watchdog::CHECK_EVERY,
        watchdog::STALL_BOUND,
    );
    Readiness::new(config.clone()).watching(drain.clone(), tasks.health(), liveness)
}

/// The eBPF per-pair flow series, labelled from an index of the enrolled pods kept fresh.
fn follow_flows(
    registry: &mut Registry,
    capture: &crate::attach::Capture,
    pods: &Arc<EnrolledPods>,
    config: &ConfigState,
    tasks: &mut Supervisor,
) {
    let pod_index = crate::flows::PodIndex::default();
    let flows = capture.flows.clone();
    crate::flows::register(registry, flows, pod_index.clone(), config.clone());
    let indexed = pods.clone();
    tasks.restarting("pod-index", move || {
        pod_index
            .clone()
            .follow(indexed.clone(), crate::flows::POD_INDEX_REFRESH)
    });
}

/// The ingress gateway listens on every address of the node's netns, where the agent runs;
/// its upstream connections never reach a node-local address, and reach meshed pods of other
/// nodes in the tunnel as the gateway's own identity.
fn gateway_inputs(
    config: &AgentConfig,
    inputs: &ProxyInputs,
    registry: &mut Registry,
) -> crate::gateway::GatewayInputs {
    let node_local = crate::net::NodeLocalGuard::register(registry, Vec::new());
    crate::gateway::GatewayInputs {
        node_local: Arc::new(node_local),
        config: inputs.config.clone(),
        http: inputs.http.clone(),
        sockets: inputs.sockets.clone(),
        labels: config.gateway_labels.clone(),
        address: std::net::Ipv4Addr::UNSPECIFIED.into(),
        timeouts: crate::gateway::GatewayTimeouts::default(),
        caps: inputs.caps.clone(),
        account: config.gateway_service_account.clone(),
        tunnel: inputs
            .tunnels
            .clone()
            .map(|tunnels| crate::gateway::GatewayTunnel {
                tunnels,
                local_pods: inputs.local_pods.clone(),
            }),
    }
}

/// Starts the configured source and the pipeline feeding `state` from it, their metrics in
/// `registry`. The agent is not ready until the source's first set is compiled.
async fn start_config(
    config: &AgentConfig,
    state: &ConfigState,
    registry: &mut Registry,
    tasks: &mut Supervisor,
) -> anyhow::Result<()> {
    let metrics = ConfigMetrics::register(registry);
    let updates = match &config.source {
        ConfigSource::Directory(dir) => {
            let source = DirectorySource::new(dir.clone());
            let updates = source.subscribe();
            tasks.essential("config-source", source.run());
            updates
        }
        ConfigSource::Kubernetes => {
            let source = KubernetesSource::from_environment(config.node_name.clone())
                .await?
                .secret_namespaces(&config.secret_namespaces)
                .register_metrics(registry);
            let updates = source.subscribe();
            tasks.essential("config-source", source.run());
            updates
        }
    };
    tasks.essential(
        "pipeline",
        crate::pipeline::run(updates, state.clone(), metrics),
    );
    let names = match config.dns_server {
        Some(server) => Ok(NameLookup::with_server(server)),
        None => NameLookup::from_resolv_conf(&config.resolv_conf),
    };
    match names {
        Ok(names) => _ = tasks.essential("dns", crate::dns::run(state.clone(), names)),
        // The mesh serves on without: DNS ServiceEntries then have no endpoints.
        Err(error) => tracing::warn!(
            error = format!("{error:#}"),
            "--resolv-conf unusable: DNS ServiceEntries are not resolved"
        ),
    }
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

/// Resolves at the `count`-th SIGINT or SIGTERM from now (never, if they cannot be watched).
async fn nth_signal(count: usize) {
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    for _ in 0..count {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    }
}

/// What changes with every snapshot swapped in, beyond the lookups that read it per connection.
fn follow_snapshots(inputs: &ProxyInputs, config: &ConfigState, tasks: &mut Supervisor) {
    // Tracing and access logs follow the mesh config and the Telemetry resources.
    let (observers, followed) = (inputs.http.observers.clone(), config.clone());
    tasks.restarting("observers", move || {
        observers.clone().follow(followed.clone())
    });
    // Balancers of clusters a reload removed go with them.
    let (balancers, followed) = (inputs.http.traffic.balancers.clone(), config.clone());
    tasks.restarting("balancers", move || {
        balancers.clone().follow(followed.clone())
    });
}
