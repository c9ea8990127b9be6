//! Inbound: connections to a pod's IP, steered by `sk_lookup` to the agent's listener on port
//! 15006 in the pod's netns. One dialled to the tunnel port (15008) is the mTLS tunnel
//! (`inbound_tunnel.rs`); any other is plain text: closed when the pod's PeerAuthentication is
//! STRICT for that port, else handed to the connection entry with what the client dialled.
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

use super::connection::{serve, Captured};
use super::inbound_l4::{destination_labels, InboundPeer};
use super::inbound_tunnel;
use super::listener::{Connection, PodListener};
use super::ProxyInputs;
use crate::net::{reset, ProxiedPod};
use crate::snapshot::PeerAuthenticationMode;

/// A pod's inbound capture listener.
pub struct Inbound(PodListener);

impl Inbound {
    /// Binds `addr` (normally `0.0.0.0:15006`) inside the pod's netns.
    pub async fn new(
        pod: Arc<ProxiedPod>,
        inputs: Arc<ProxyInputs>,
        addr: SocketAddr,
    ) -> io::Result<Self> {
        PodListener::bind(pod, inputs, addr, None).await.map(Self)
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

/// An accepted inbound connection: to the tunnel port, the tunnel; otherwise plain text,
/// which a STRICT PeerAuthentication refuses; then the connection entry.
async fn accept(connection: Connection, own_port: u16) {
    // `sk_lookup` steers without rewriting: the local address is what the client dialled.
    let dialled = connection.client.local_addr();
    let tunnel_port = connection.inputs.tunnels.as_ref().map(|t| t.port());
    let original_dst = match dialled {
        Ok(original) if Some(original.port()) == tunnel_port => {
            return inbound_tunnel::serve(connection).await
        }
        Ok(original) if original.port() != own_port => original,
        _ => {
            let (pod, peer) = (&connection.pod, connection.peer);
            tracing::debug!(pod = %pod.name, %peer, "connection addressed to the listener itself; resetting");
            return reset(connection.client);
        }
    };
    if strict(&connection, original_dst) {
        return deny_plain_text(connection, original_dst);
    }
    serve(connection, Captured::Inbound { original_dst }).await
}

/// Whether the pod's PeerAuthentication is STRICT for the port dialled.
fn strict(connection: &Connection, original_dst: SocketAddr) -> bool {
    let snapshot = connection.inputs.config.snapshot();
    let workload = snapshot.pod_workload(&connection.pod);
    let mode = snapshot.peer_authentication_mode(
        &workload.namespace,
        &workload.labels,
        original_dst.port(),
    );
    mode == PeerAuthenticationMode::Strict
}

/// A plain-text connection to a STRICT port: counted (`response_flags="DENY"`) and closed,
/// never reaching the app.
fn deny_plain_text(connection: Connection, original_dst: SocketAddr) {
    let (pod, inputs, peer) = (&connection.pod, &connection.inputs, connection.peer);
    let snapshot = inputs.config.snapshot();
    let app = SocketAddr::new(pod.ip_like(original_dst.ip()), original_dst.port());
    let plain = InboundPeer {
        address: peer,
        identity: None,
    };
    let labels = destination_labels(pod, &plain, app, &snapshot).with_response_flags("DENY");
    drop(inputs.metrics.open(&labels));
    tracing::debug!(pod = %pod.name, %peer, %original_dst, "plain text to a STRICT port; closed");
}
