//! Inbound: connections to a pod's IP, steered by `sk_lookup` to the agent's listener on port
//! 15006 in the pod's netns; on the L4 path, forwarded to the app on the pod's IP from inside
//! that same netns.
//!
//! What the app sees: the connection comes from its own pod IP (an ephemeral port), not from
//! the client pod. Giving it the client's address would need transparent sockets plus reply
//! routing inside every pod (iptables marks and policy routes, as Istio's in-pod mode does),
//! which this mesh does without; the client's identity is kept in the telemetry
//! (`source_workload`, `source_principal`, access logs). An app listening only on loopback is
//! not reachable through the mesh, just as it is not reachable from other pods without it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::connection::{serve, Captured, Connection};
use super::connection_log::{ConnectionLog, TcpHop};
use super::forward::forward;
use super::listener::PodListener;
use super::{ProxyInputs, TcpLabels};
use crate::facts::Reporter;
use crate::net::{connect, reset, ProxiedPod};
use crate::snapshot::Snapshot;

/// A pod's inbound capture listener.
pub struct Inbound(PodListener);

impl Inbound {
    /// Binds `addr` (normally `0.0.0.0:15006`) inside the pod's netns.
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

    /// The listener itself, for the capture layer's `sk_lookup` map.
    pub fn listener(&self) -> &TcpListener {
        &self.0.listener
    }

    /// Accepts connections until the task is dropped; each runs in its own task.
    pub async fn run(self) {
        let own_port = self.address().port();
        self.0.run("inbound", move |c| accept(c, own_port)).await
    }
}

/// An accepted inbound connection: what the client dialled, then the connection entry.
async fn accept(connection: Connection, own_port: u16) {
    // `sk_lookup` steers without rewriting: the local address is what the client dialled.
    let original_dst = match connection.client.local_addr() {
        Ok(original) if original.port() != own_port => original,
        _ => {
            let (pod, peer) = (&connection.pod.name, connection.peer);
            tracing::debug!(%pod, %peer, "connection addressed to the listener itself; resetting");
            return reset(connection.client);
        }
    };
    serve(connection, Captured::Inbound { original_dst }).await
}

/// The L4 path: the app is dialled on the address the client dialled, from inside its own
/// netns: the connection comes from the pod's own IP, which `sk_lookup` leaves alone, and a
/// listener bound to loopback only stays unreachable from outside the pod.
pub(super) async fn forward_to_app(
    connection: Connection,
    original: SocketAddr,
    snapshot: Arc<Snapshot>,
) {
    let (pod, inputs, peer) = (&connection.pod, &connection.inputs, connection.peer);
    let app = SocketAddr::new(pod.ip, original.port());
    let upstream = match connect(&pod.netns, app, &inputs.sockets).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::debug!(pod = %pod.name, %original, %error, "app connect failed; resetting");
            return reset(connection.client);
        }
    };
    let source = snapshot.workload(peer.ip()).cloned();
    let destination = snapshot.pod_workload(pod);
    let service = snapshot.service_of_endpoint(app).map(|(s, _)| s.clone());
    let labels = TcpLabels::new(
        Reporter::destination,
        source.as_deref(),
        Some(&destination),
        service.as_deref(),
    );
    let hop = TcpHop {
        reporter: Reporter::destination,
        source: source.clone(),
        destination: Some(destination.clone()),
        pod_ip: pod.ip,
        downstream: peer,
        upstream: app,
    };
    let log = ConnectionLog::start(&inputs.http.observers, hop);
    let metrics = inputs.metrics.open(&labels);
    forward(connection.client, upstream, metrics, log).await;
}
