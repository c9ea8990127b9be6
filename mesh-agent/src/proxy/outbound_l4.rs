//! The L4 path of an outbound connection: to the endpoint the balancer of the cluster its
//! route chose picks (or the address the app asked for), dialled from inside the pod's netns,
//! through the same-node path, or in the mTLS tunnel to a meshed pod, then bytes copied both ways.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use super::authorize::{
    custom_refusal, decide_connection, local_identity, network_policy_verdict, refuse,
    while_allowed, ConnectionPeer,
};
use super::connection_log::{ConnectionLog, TcpHop};
use super::forward::{forward_within, ConnectionLifetime};
use super::listener::Connection;
use super::local::SameNodeHop;
use super::metrics::ConnectionMetrics;
use super::outbound_route::{self, L4Upstream};
use super::outbound_tunnel;
use super::splice::forward_sockets;
use super::{sni, ProxyInputs, TcpLabels};
use crate::authz::Decision;
use crate::facts::Reporter;
use crate::lb::{self, Pick};
use crate::net::{connect, reset, ProxiedPod, UpstreamSockets};
use crate::snapshot::{pseudo_service, Address, Cluster, Protocol as PortProtocol, Service};
use crate::snapshot::{Snapshot, BLACK_HOLE_CLUSTER, PASSTHROUGH_CLUSTER};
use crate::tunnel::{TunnelError, TunnelPlan, TunnelStream};

/// The L4 path to `original`: where it goes ([`outbound_route`]: the egress decision by
/// address or TLS SNI, then `tcp`/`tls` rules), the endpoint, `tcp.maxConnections`, the
/// upstream socket (the same-node path when the endpoint is a pod of this node), then the copy.
/// The steps before the copy are boxed: an open connection holds only the copy's state.
pub(super) async fn forward(connection: Connection, original: SocketAddr, snapshot: Arc<Snapshot>) {
    let (pod, inputs) = (&connection.pod, &connection.inputs);
    let source = snapshot.pod_workload(pod);
    let sni = Box::pin(client_sni(&connection, &snapshot, original)).await;
    let chance = &inputs.http.traffic.chance;
    let decided = outbound_route::decide(&snapshot, &source, original, sni.as_deref(), chance);
    let (service, cluster, routed) = match decided {
        L4Upstream::Cluster {
            service,
            cluster,
            routed,
        } => (service, Some(cluster), routed),
        L4Upstream::Passthrough => (pseudo_service(PASSTHROUGH_CLUSTER), None, false),
        L4Upstream::BlackHole => return black_hole(connection, &snapshot, original, sni),
        L4Upstream::NoCluster(what) => {
            tracing::warn!(pod = %pod.name, %original, %what, "no such cluster; resetting");
            return reset(connection.client);
        }
    };
    let source_pod: Arc<str> = format!("{}/{}", pod.namespace, pod.name).into();
    let picking = Picking {
        source_ip: pod.ip,
        source_pod: &source_pod,
        original,
        routed,
    };
    let Some(pick) = pick_endpoint(inputs, &snapshot, &picking, cluster.as_ref()) else {
        tracing::warn!(pod = %pod.name, %original, "service has no endpoints; resetting");
        return reset(connection.client);
    };
    let limits = cluster.and_then(|c| inputs.http.traffic.resilience.tcp_pool(&c, &source_pod));
    // `tcp.maxConnections`, per source pod: a connection over it is closed at once.
    let _place = match limits.as_ref().map(|l| l.open_connection()) {
        Some(Err(overflow)) => {
            tracing::warn!(pod = %pod.name, %original, %overflow, "connection pool full; resetting");
            return reset(connection.client);
        }
        place => place.and_then(Result::ok),
    };
    let policy = limits.as_ref().map(|l| *l.policy());
    let sockets = inputs
        .sockets
        .with_connect_timeout(policy.and_then(|p| p.connect_timeout));
    let same_node = inputs.local_pods.fast_path(pick.endpoint);
    let endpoint = pick.endpoint;
    let refused = {
        let refusing = refused_on_same_node(&connection, &snapshot, &service, endpoint, &same_node);
        Box::pin(refusing)
    };
    if let Some((metrics, log, (details, flag))) = refused.await {
        return refuse(connection.client, metrics, log, (&details, flag));
    }
    let tunnel = tunnel_plan(inputs, &snapshot, pod, pick.endpoint, &same_node);
    let hop = Hop {
        endpoint: pick.endpoint,
        same_node: same_node.as_ref(),
        tunnel: tunnel.as_ref(),
    };
    let connecting = Box::pin(connect_logged(&connection, original, hop, &sockets));
    let Some((upstream, hop)) = connecting.await else {
        return reset(connection.client);
    };
    let (metrics, log) = telemetry(&connection, &snapshot, &service, &hop, "-");
    let lifetime = ConnectionLifetime::of(policy.as_ref());
    let (pod, port) = (connection.pod.clone(), connection.peer.port());
    let forwarding = Box::pin(carry(
        inputs,
        connection.client,
        upstream,
        (metrics, log),
        lifetime,
    ));
    match &same_node {
        // Decided again at every swap: a new DENY cuts it.
        Some(hop) => {
            let decide = |now: &Snapshot| same_node_decision_of(inputs, &pod, port, now, hop);
            while_allowed(forwarding, &inputs.config, decide).await
        }
        None => forwarding.await,
    }
    // LEAST_REQUEST counted the connection in flight until here.
    drop(pick);
}

/// The tunnel to `endpoint`, unless the same-node path reaches it.
fn tunnel_plan(
    inputs: &ProxyInputs,
    snapshot: &Snapshot,
    pod: &ProxiedPod,
    endpoint: SocketAddr,
    same_node: &Option<SameNodeHop>,
) -> Option<TunnelPlan> {
    same_node
        .is_none()
        .then(|| outbound_tunnel::plan(inputs, snapshot, pod, endpoint))
        .flatten()
}

/// The SNI of a TLS client: peeked when its first bytes are there (detection waited for
/// them), or, on a port declared TLS, within the detection window.
async fn client_sni(
    connection: &Connection,
    snapshot: &Snapshot,
    original: SocketAddr,
) -> Option<String> {
    let window = connection.inputs.http.detect_window;
    let declared = snapshot
        .outbound_service(original)
        .map(|(_, port)| port.protocol);
    let tls = matches!(declared, Some(PortProtocol::Tls | PortProtocol::Https));
    let silence = if tls { window } else { Duration::ZERO };
    sni::peek(&connection.client, silence, window).await
}

/// REGISTRY_ONLY refused the connection: logged, counted as `BlackHoleCluster`, closed.
fn black_hole(
    connection: Connection,
    snapshot: &Snapshot,
    original: SocketAddr,
    sni: Option<String>,
) {
    let pod = &connection.pod;
    tracing::info!(pod = %pod.name, %original, sni, "REGISTRY_ONLY: destination not in the registry; closed (BlackHoleCluster)");
    let source = snapshot.pod_workload(pod);
    let service = pseudo_service(BLACK_HOLE_CLUSTER);
    let labels = TcpLabels::new(Reporter::source, Some(&source), None, Some(&service));
    drop(connection.inputs.metrics.open(&labels));
    reset(connection.client)
}

/// How the upstream is reached: the endpoint, and the same-node path or the tunnel if taken.
struct Hop<'a> {
    endpoint: SocketAddr,
    same_node: Option<&'a SameNodeHop>,
    tunnel: Option<&'a TunnelPlan>,
}

/// The upstream: a socket, or a stream in the tunnel.
enum Upstream {
    Socket(TcpStream),
    Tunnel(TunnelStream),
}

/// Why the upstream could not be reached.
#[derive(Debug, thiserror::Error)]
enum UpstreamError {
    #[error(transparent)]
    Connect(#[from] io::Error),
    #[error("tunnel: {0}")]
    Tunnel(#[from] TunnelError),
}

/// [`connect_upstream`], its failure logged; the hop says whether the tunnel was taken (a
/// tunnel planned but refused, no agent there, fell back to plain text).
async fn connect_logged<'a>(
    connection: &Connection,
    original: SocketAddr,
    hop: Hop<'a>,
    sockets: &UpstreamSockets,
) -> Option<(Upstream, Hop<'a>)> {
    let (pod, endpoint) = (&connection.pod, hop.endpoint);
    let upstream = match connect_upstream(&connection.inputs, pod, &hop, sockets).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::warn!(pod = %pod.name, %original, %endpoint, %error, "upstream connect failed; resetting");
            return None;
        }
    };
    let tunnel = hop
        .tunnel
        .filter(|_| matches!(upstream, Upstream::Tunnel(_)));
    tracing::debug!(pod = %pod.name, %original, %endpoint, tunnel = tunnel.is_some(), "outbound connection");
    Some((upstream, Hop { tunnel, ..hop }))
}

/// Copies between `client` and `upstream` (a socket or a tunnel stream) within `lifetime`; two
/// sockets are spliced in the kernel instead when splicing is on (not with same-node
/// acceleration: the app's bytes then bypass the client socket's receive path).
async fn carry(
    inputs: &ProxyInputs,
    client: TcpStream,
    upstream: Upstream,
    (metrics, log): (ConnectionMetrics, Option<ConnectionLog>),
    lifetime: ConnectionLifetime,
) {
    match upstream {
        Upstream::Socket(socket) => {
            let splicer = inputs
                .splice
                .as_ref()
                .filter(|_| inputs.on_outbound_accept.is_none());
            forward_sockets(splicer, client, socket, metrics, log, lifetime).await
        }
        Upstream::Tunnel(stream) => forward_within(client, stream, metrics, log, lifetime).await,
    }
}

/// The upstream: through the same-node path, the tunnel, or dialled from inside the pod's netns.
async fn connect_upstream(
    inputs: &ProxyInputs,
    pod: &ProxiedPod,
    hop: &Hop<'_>,
    sockets: &UpstreamSockets,
) -> Result<Upstream, UpstreamError> {
    if let Some(plan) = hop.tunnel {
        match outbound_tunnel::open(inputs, pod, sockets, plan).await {
            Ok(stream) => return Ok(Upstream::Tunnel(stream)),
            Err(error) if error.nobody_listens() => {
                tracing::warn!(pod = %pod.name, endpoint = %hop.endpoint, %error, "no agent at the destination; plain text (fail open)");
            }
            Err(error) => return Err(error.into()),
        }
    }
    let socket = match hop.same_node {
        Some(same) => same.connect(sockets).await?,
        None => connect(&pod.netns, hop.endpoint, sockets).await?,
    };
    Ok(Upstream::Socket(socket))
}

/// On the same-node path, the destination's inbound policies for the inbound hop this path
/// skips: when they deny, the telemetry of the refusal (`DENY`) and what refused it.
async fn refused_on_same_node(
    connection: &Connection,
    snapshot: &Snapshot,
    service: &Service,
    endpoint: SocketAddr,
    same_node: &Option<SameNodeHop>,
) -> Option<(
    ConnectionMetrics,
    Option<ConnectionLog>,
    (String, &'static str),
)> {
    let same = same_node.as_ref()?;
    let (details, flag) = same_node_refusal(connection, snapshot, same).await?;
    let hop = Hop {
        endpoint,
        same_node: Some(same),
        tunnel: None,
    };
    let (metrics, log) = telemetry(connection, snapshot, service, &hop, flag);
    Some((metrics, log, (details, flag)))
}

/// Why the same-node hop is refused: the destination pod's ingress NetworkPolicies (the CNI
/// never sees this delivery; the client is the registry's pod), then its CUSTOM policy's
/// external authorizer (`UAEX`), then its other AuthorizationPolicies; with the flag (`DENY`).
async fn same_node_refusal(
    connection: &Connection,
    snapshot: &Snapshot,
    hop: &SameNodeHop,
) -> Option<(String, &'static str)> {
    let destination = snapshot.pod_workload(&hop.pod);
    let client = connection.pod.ip;
    let source = snapshot.workload(client).map(AsRef::as_ref);
    let inputs = &connection.inputs;
    let verdict = network_policy_verdict(
        inputs,
        snapshot,
        &destination,
        hop.endpoint,
        client,
        source,
        "same_node",
    );
    if let Some(details) = verdict.details() {
        return Some((details, "DENY"));
    }
    let identity = local_identity(snapshot, client);
    let peer = ConnectionPeer {
        address: SocketAddr::new(client, connection.peer.port()),
        identity: identity.as_ref(),
    };
    let asked = custom_refusal(
        inputs,
        snapshot,
        &destination,
        hop.pod.ip,
        peer,
        hop.endpoint,
    );
    if let Some(details) = asked.await {
        return Some((details, "UAEX"));
    }
    let decision = same_node_decision(connection, snapshot, hop);
    decision.details().map(|details| (details, "DENY"))
}

/// The destination pod's policies on a same-node connection from this pod: the agent knows
/// the client pod, so its registry identity (namespace, service account) stands for the one a
/// tunnel would prove.
fn same_node_decision(connection: &Connection, snapshot: &Snapshot, hop: &SameNodeHop) -> Decision {
    let (pod, inputs, port) = (&connection.pod, &connection.inputs, connection.peer.port());
    same_node_decision_of(inputs, pod, port, snapshot, hop)
}

/// [`same_node_decision`] for the client pod `pod`, its connection from `port`.
fn same_node_decision_of(
    inputs: &ProxyInputs,
    pod: &ProxiedPod,
    port: u16,
    snapshot: &Snapshot,
    hop: &SameNodeHop,
) -> Decision {
    let identity = local_identity(snapshot, pod.ip);
    let peer = ConnectionPeer {
        address: SocketAddr::new(pod.ip, port),
        identity: identity.as_ref(),
    };
    let destination = snapshot.pod_workload(&hop.pod);
    decide_connection(
        inputs,
        snapshot,
        &destination,
        hop.pod.ip,
        peer,
        hop.endpoint,
    )
}

/// Istio's TCP metrics and the access log line of the connection; on the same-node path also
/// those of the inbound hop it skips, with `destination_flags` (`DENY` when refused).
fn telemetry(
    connection: &Connection,
    snapshot: &Snapshot,
    service: &Service,
    hop: &Hop<'_>,
    destination_flags: &str,
) -> (ConnectionMetrics, Option<ConnectionLog>) {
    let (endpoint, same_node) = (hop.endpoint, hop.same_node);
    let (pod, inputs, peer) = (&connection.pod, &connection.inputs, connection.peer);
    let source = snapshot.pod_workload(pod);
    let destination = snapshot.workload(endpoint.ip()).cloned();
    let labels = TcpLabels::new(
        Reporter::source,
        Some(&source),
        destination.as_deref(),
        Some(service),
    );
    let labels = match hop.tunnel {
        Some(plan) => labels.mutual_tls(&plan.target.source, &plan.target.destination),
        None => labels,
    };
    let tcp_hop = TcpHop {
        reporter: Reporter::source,
        source: Some(source.clone()),
        destination: destination.clone(),
        pod_ip: pod.ip,
        downstream: peer,
        upstream: endpoint,
    };
    let log = ConnectionLog::start(&inputs.http.observers, tcp_hop);
    let Some(same) = same_node else {
        return (inputs.metrics.open(&labels), log);
    };
    let source_addr = SocketAddr::new(pod.ip, peer.port());
    let inbound_log = same.destination_log(&inputs.http.observers, source_addr, snapshot);
    let inbound_labels = same
        .destination_labels(pod.ip, snapshot)
        .with_response_flags(destination_flags);
    let metrics = inputs.metrics.open_both(&labels, &inbound_labels);
    (metrics, ConnectionLog::both(log, inbound_log))
}

/// The endpoint in `cluster`: its balancer picks, as for HTTP (`loadBalancer`, ejected
/// endpoints left out, the closest locality priority with room). When no rule chose the cluster and `original` is a backend of its
/// Service port (Cilium's socket LB translated the ClusterIP before the capture hook, or the
/// app dialled the pod), that backend is kept while it is one of the cluster's eligible
/// endpoints — the socket LB already balanced, and a pod dialled on purpose (a StatefulSet's)
/// stays the one dialled. No cluster: `original` itself (passthrough).
fn pick_endpoint(
    inputs: &ProxyInputs,
    snapshot: &Snapshot,
    picking: &Picking,
    cluster: Option<&Arc<Cluster>>,
) -> Option<Pick> {
    let Picking {
        source_ip,
        source_pod,
        original,
        routed,
    } = *picking;
    let Some(cluster) = cluster else {
        return Some(Pick::at(original));
    };
    let traffic = &inputs.http.traffic;
    // The source pod's own outlier detector, as its sidecar's.
    let detector = traffic.resilience.detector(cluster, source_pod);
    let balancer = traffic.balancers.of(cluster);
    let eligible = detector.map(|d| balancer.closest(d.eligible(&lb::ip_endpoints(cluster))));
    let is_backend = !routed && snapshot.service_at(original).is_none();
    if is_backend && keeps(cluster, eligible.as_deref(), original) {
        return Some(Pick::at(original));
    }
    lb::for_connection(&balancer, source_ip, original, eligible.as_deref())
}

/// Who picks an endpoint for what: the source pod (its address, `namespace/pod`), the
/// address it dialled, and whether a rule chose the cluster.
#[derive(Clone, Copy)]
struct Picking<'a> {
    source_ip: IpAddr,
    source_pod: &'a Arc<str>,
    original: SocketAddr,
    routed: bool,
}

/// Whether `backend` is one of `cluster`'s endpoints, and not ejected.
fn keeps(cluster: &Cluster, eligible: Option<&[SocketAddr]>, backend: SocketAddr) -> bool {
    match eligible {
        Some(eligible) => eligible.contains(&backend),
        None => cluster.endpoints.iter().any(|(address, port)| {
            *port == backend.port() && *address == Address::Ip(backend.ip())
        }),
    }
}
