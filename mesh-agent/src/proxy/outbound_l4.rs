//! The L4 path of an outbound connection: to the endpoint the Service port's balancer picks
//! (or the address the app asked for), dialled from inside the pod's netns or through the
//! same-node path, then bytes copied both ways.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpStream;

use super::authorize::{decide_connection, local_identity, refuse, while_allowed, ConnectionPeer};
use super::connection_log::{ConnectionLog, TcpHop};
use super::forward::{forward_within, ConnectionLifetime};
use super::listener::Connection;
use super::local::SameNodeHop;
use super::metrics::ConnectionMetrics;
use super::{ProxyInputs, TcpLabels};
use crate::authz::Decision;
use crate::facts::Reporter;
use crate::lb::{self, Pick};
use crate::net::{connect, reset, ProxiedPod, UpstreamSockets};
use crate::resilience::DestinationPool;
use crate::snapshot::{Address, Cluster, Snapshot};

/// The L4 path to `original`: the endpoint, `tcp.maxConnections`, the upstream socket (the
/// same-node path when the endpoint is a pod of this node), then the copy.
pub(super) async fn forward(connection: Connection, original: SocketAddr, snapshot: Arc<Snapshot>) {
    let (pod, inputs) = (&connection.pod, &connection.inputs);
    let Some(pick) = pick_endpoint(inputs, &snapshot, pod.ip, original) else {
        tracing::warn!(pod = %pod.name, %original, "service has no endpoints; resetting");
        return reset(connection.client);
    };
    let limits = tcp_limits(inputs, &snapshot, original);
    // `tcp.maxConnections`, node-wide: a connection over it is closed at once.
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
    if let Some(hop) = &same_node {
        // The destination's inbound policies, for the inbound hop this path skips.
        let decision = same_node_decision(&connection, &snapshot, hop);
        if !decision.allowed {
            let endpoint = pick.endpoint;
            let (metrics, log) = telemetry(
                &connection,
                &snapshot,
                original,
                endpoint,
                Some(hop),
                "DENY",
            );
            return refuse(connection.client, metrics, log, &decision);
        }
    }
    let upstream = match connect_upstream(pod, pick.endpoint, same_node.as_ref(), &sockets).await {
        Ok(upstream) => upstream,
        Err(error) => {
            let endpoint = pick.endpoint;
            tracing::warn!(pod = %pod.name, %original, %endpoint, %error, "upstream connect failed; resetting");
            return reset(connection.client);
        }
    };
    tracing::debug!(pod = %pod.name, %original, endpoint = %pick.endpoint, "outbound connection");
    let (metrics, log) = telemetry(
        &connection,
        &snapshot,
        original,
        pick.endpoint,
        same_node.as_ref(),
        "-",
    );
    let lifetime = ConnectionLifetime::of(policy.as_ref());
    let (pod, port) = (connection.pod.clone(), connection.peer.port());
    let forwarding = forward_within(connection.client, upstream, metrics, log, lifetime);
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

/// The upstream socket: through the same-node path, or dialled from inside the pod's netns.
async fn connect_upstream(
    pod: &ProxiedPod,
    endpoint: SocketAddr,
    same_node: Option<&SameNodeHop>,
    sockets: &UpstreamSockets,
) -> io::Result<TcpStream> {
    match same_node {
        Some(hop) => hop.connect(sockets).await,
        None => connect(&pod.netns, endpoint, sockets).await,
    }
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
    original: SocketAddr,
    endpoint: SocketAddr,
    same_node: Option<&SameNodeHop>,
    destination_flags: &str,
) -> (ConnectionMetrics, Option<ConnectionLog>) {
    let (pod, inputs, peer) = (&connection.pod, &connection.inputs, connection.peer);
    let service = snapshot.outbound_service(original).map(|(s, _)| s.clone());
    let source = snapshot.pod_workload(pod);
    let destination = snapshot.workload(endpoint.ip()).cloned();
    let labels = TcpLabels::new(
        Reporter::source,
        Some(&source),
        destination.as_deref(),
        service.as_deref(),
    );
    let hop = TcpHop {
        reporter: Reporter::source,
        source: Some(source.clone()),
        destination: destination.clone(),
        pod_ip: pod.ip,
        downstream: peer,
        upstream: endpoint,
    };
    let log = ConnectionLog::start(&inputs.http.observers, hop);
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

/// The node-wide connection accounting of the destination `original` is a Service port of,
/// when its DestinationRule sets a `connectionPool`.
fn tcp_limits(
    inputs: &ProxyInputs,
    snapshot: &Snapshot,
    original: SocketAddr,
) -> Option<DestinationPool> {
    let (service, port) = snapshot.outbound_service(original)?;
    let cluster = snapshot.cluster(&service.hostname, port.port, None)?;
    inputs.http.traffic.resilience.tcp_pool(cluster)
}

/// The endpoint for `original`: when it is a ClusterIP:port, its cluster's balancer picks, as
/// for HTTP (`loadBalancer`, ejected endpoints left out). When it is a backend of a Service port
/// (Cilium's socket LB translated the ClusterIP before the capture hook, or the app dialled the
/// pod), that backend is kept while it is one of the cluster's eligible endpoints — the socket
/// LB already balanced, and a pod dialled on purpose (a StatefulSet's) stays the one dialled —
/// else the balancer picks. Not a Service: `original` itself (passthrough).
fn pick_endpoint(
    inputs: &ProxyInputs,
    snapshot: &Snapshot,
    source_ip: IpAddr,
    original: SocketAddr,
) -> Option<Pick> {
    let Some((service, port)) = snapshot.outbound_service(original) else {
        return Some(Pick::at(original));
    };
    let cluster = snapshot.cluster(&service.hostname, port.port, None)?;
    let traffic = &inputs.http.traffic;
    let detector = traffic.resilience.detector(cluster);
    let eligible = detector.map(|d| d.eligible(&lb::ip_endpoints(cluster)));
    let is_backend = snapshot.service_at(original).is_none();
    if is_backend && keeps(cluster, eligible.as_deref(), original) {
        return Some(Pick::at(original));
    }
    let balancer = traffic.balancers.of(cluster);
    lb::for_connection(&balancer, source_ip, original, eligible.as_deref())
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
