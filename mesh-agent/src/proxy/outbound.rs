//! Outbound: connections a pod opened, redirected by `connect4` to the agent's listener on
//! 127.0.0.1:15001 in the pod's netns, forwarded to the Service endpoint (or the address the
//! app asked for) from inside that same netns.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;

use tokio::net::TcpStream;

use super::connection_log::{ConnectionLog, TcpHop};
use super::forward::{forward_within, ConnectionLifetime};
use super::listener::{Accepted, PodListener};
use super::{ProxyInputs, TcpLabels};
use crate::facts::Reporter;
use crate::net::ProxiedPod;
use crate::net::{connect, reset};
use crate::pipeline::RoundRobin;
use crate::snapshot::Snapshot;

/// A pod's outbound capture listener.
pub struct Outbound(PodListener);

impl Outbound {
    /// Binds `addr` inside the pod's netns.
    pub async fn new(
        pod: Arc<ProxiedPod>,
        inputs: Arc<ProxyInputs>,
        addr: SocketAddr,
    ) -> io::Result<Self> {
        PodListener::bind(pod, inputs, addr).await.map(Self)
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.0.address()
    }

    /// Accepts connections until the task is dropped; each runs in its own task.
    pub async fn run(self) {
        let proxy = |a: Accepted| proxy_outbound(a.client, a.peer, a.pod, a.inputs, a.http_pool);
        self.0.run("outbound", proxy).await
    }
}

/// One outbound connection, top to bottom.
async fn proxy_outbound(
    client: TcpStream,
    peer: SocketAddr,
    pod: Arc<ProxiedPod>,
    inputs: Arc<ProxyInputs>,
    http_pool: crate::http::Pool,
) {
    if let Some(accelerate) = &inputs.on_outbound_accept {
        accelerate(client.as_fd(), pod.netns_cookie, peer.port());
    }
    let Some(original) = inputs.original_dsts.take(pod.netns_cookie, peer.port()) else {
        tracing::warn!(pod = %pod.name, %peer, "no original destination; resetting");
        return reset(client);
    };
    let snapshot = inputs.config.snapshot();
    let service = snapshot.service_at(original).map(|(s, _)| s.clone());
    let direction = crate::http::Direction::Outbound {
        original_dst: original,
    };
    let http = crate::http::serve_if_http(client, peer, direction, &pod, &inputs, &http_pool);
    let Some(client) = http.await else { return };
    let round_robin = inputs.config.round_robin();
    let Some(endpoint) = pick_endpoint(original, &snapshot, round_robin) else {
        tracing::warn!(pod = %pod.name, %original, "service has no endpoints; resetting");
        return reset(client);
    };
    let limits = tcp_limits(&inputs, &snapshot, original);
    let policy = limits.as_ref().map(|l| *l.policy());
    // `tcp.maxConnections`, node-wide: a connection over it is closed at once.
    let _place = match limits.as_ref().map(|l| l.open_connection()) {
        Some(Err(overflow)) => {
            tracing::warn!(pod = %pod.name, %original, %overflow, "connection pool full; resetting");
            return reset(client);
        }
        place => place.and_then(Result::ok),
    };
    let sockets = inputs
        .sockets
        .with_connect_timeout(policy.and_then(|p| p.connect_timeout));
    let same_node = inputs.local_pods.fast_path(endpoint);
    let upstream = match &same_node {
        Some(hop) => hop.connect(&sockets).await,
        None => connect(&pod.netns, endpoint, &sockets).await,
    };
    let upstream = match upstream {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::warn!(pod = %pod.name, %original, %endpoint, %error, "upstream connect failed; resetting");
            return reset(client);
        }
    };
    let source = snapshot.pod_workload(&pod);
    let destination = snapshot.workload(endpoint.ip()).cloned();
    let labels = TcpLabels::new(
        Reporter::source,
        Some(&source),
        destination.as_deref(),
        service.as_deref(),
    );
    tracing::debug!(pod = %pod.name, %original, %endpoint, "outbound connection");
    let hop = TcpHop {
        reporter: Reporter::source,
        source: Some(source.clone()),
        destination: destination.clone(),
        pod_ip: pod.ip,
        downstream: peer,
        upstream: endpoint,
    };
    let log = ConnectionLog::start(&inputs.http.observers, hop);
    // The same-node fast path also writes the line its skipped inbound hop would have.
    let log = match &same_node {
        Some(same) => {
            let source = SocketAddr::new(pod.ip, peer.port());
            let inbound = same.destination_log(&inputs.http.observers, source, &snapshot);
            ConnectionLog::both(log, inbound)
        }
        None => log,
    };
    let metrics = match &same_node {
        Some(hop) => {
            let inbound = hop.destination_labels(pod.ip, &snapshot);
            inputs.metrics.open_both(&labels, &inbound)
        }
        None => inputs.metrics.open(&labels),
    };
    let lifetime = ConnectionLifetime::of(policy.as_ref());
    forward_within(client, upstream, metrics, log, lifetime).await;
}

/// The node-wide connection accounting of the destination `original` is a Service port of,
/// when its DestinationRule sets a `connectionPool`.
fn tcp_limits(
    inputs: &ProxyInputs,
    snapshot: &Snapshot,
    original: SocketAddr,
) -> Option<crate::resilience::DestinationPool> {
    let (service, port) = snapshot.service_at(original)?;
    let cluster = snapshot.cluster(&service.hostname, port.port, None)?;
    inputs.http.traffic.resilience.tcp_pool(cluster)
}

/// The endpoint for `original`: round robin over the endpoints of the Service port's cluster
/// when it is a ClusterIP:port, else `original` itself (passthrough).
fn pick_endpoint(
    original: SocketAddr,
    snapshot: &Snapshot,
    round_robin: &RoundRobin,
) -> Option<SocketAddr> {
    match snapshot.service_at(original) {
        Some((service, port)) => {
            let cluster = snapshot.cluster(&service.hostname, port.port, None)?;
            round_robin.pick(cluster)
        }
        None => Some(original),
    }
}
