//! The L4 path of an inbound connection: to the app on the pod's own IP, dialled from inside the
//! pod's netns, then bytes copied both ways — for a plain-text connection and for one that came
//! through the tunnel alike ([`InboundPeer`] says which).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;

use super::connection_log::{ConnectionLog, TcpHop};
use super::forward::{forward, Carried};
use super::listener::Connection;
use super::{ProxyInputs, TcpLabels};
use crate::facts::Reporter;
use crate::identity::Identity;
use crate::net::{connect, reset, ProxiedPod};
use crate::snapshot::Snapshot;

/// Who is on the other end of an inbound connection. Inbound policy (AuthorizationPolicy)
/// decides on this: `identity` is what the peer's certificate proved through the tunnel,
/// `None` for a plain-text connection.
#[derive(Clone, Debug)]
pub struct InboundPeer {
    /// The client's address (through the tunnel: the source pod's, which dialled it).
    pub address: SocketAddr,
    /// The peer's SPIFFE identity, from its certificate.
    pub identity: Option<Identity>,
}

/// The plain-text L4 path: the app is dialled on the address the client dialled, from inside
/// its own netns: the connection comes from the pod's own IP, which `sk_lookup` leaves alone,
/// and a listener bound to loopback only stays unreachable from outside the pod.
pub(super) async fn forward_to_app(
    connection: Connection,
    original: SocketAddr,
    snapshot: Arc<Snapshot>,
) {
    let (pod, inputs, peer) = (&connection.pod, &connection.inputs, connection.peer);
    let app = SocketAddr::new(pod.ip_like(original.ip()), original.port());
    let upstream = match connect_app(pod, inputs, app).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::debug!(pod = %pod.name, %original, %error, "app connect failed; resetting");
            return reset(connection.client);
        }
    };
    let peer = InboundPeer {
        address: peer,
        identity: None,
    };
    let (pod, inputs) = (pod.clone(), inputs.clone());
    carry(
        connection.client,
        upstream,
        &pod,
        &inputs,
        &peer,
        app,
        &snapshot,
    )
    .await
}

/// A socket to the app at `app`, from inside the pod's netns.
pub(super) async fn connect_app(
    pod: &ProxiedPod,
    inputs: &ProxyInputs,
    app: SocketAddr,
) -> io::Result<TcpStream> {
    connect(&pod.netns, app, &inputs.sockets).await
}

/// Copies between `client` and the app's `upstream`, counted and logged as the destination
/// side (through the tunnel: `mutual_tls` and the certificates' principals).
pub(super) async fn carry(
    client: impl Carried,
    upstream: TcpStream,
    pod: &ProxiedPod,
    inputs: &ProxyInputs,
    peer: &InboundPeer,
    app: SocketAddr,
    snapshot: &Snapshot,
) {
    let labels = destination_labels(pod, peer, app, snapshot);
    let hop = TcpHop {
        reporter: Reporter::destination,
        source: snapshot.workload(peer.address.ip()).cloned(),
        destination: Some(snapshot.pod_workload(pod)),
        pod_ip: pod.ip,
        downstream: peer.address,
        upstream: app,
    };
    let log = ConnectionLog::start(&inputs.http.observers, hop);
    let metrics = inputs.metrics.open(&labels);
    forward(client, upstream, metrics, log).await;
}

/// The destination side's TCP labels of a connection from `peer` to the app at `app`.
pub(super) fn destination_labels(
    pod: &ProxiedPod,
    peer: &InboundPeer,
    app: SocketAddr,
    snapshot: &Snapshot,
) -> TcpLabels {
    let source = snapshot.workload(peer.address.ip()).cloned();
    let destination = snapshot.pod_workload(pod);
    let service = snapshot.service_of_endpoint(app).map(|(s, _)| s.clone());
    let labels = TcpLabels::new(
        Reporter::destination,
        source.as_deref(),
        Some(&destination),
        service.as_deref(),
    );
    let own = super::outbound_tunnel::identity(&destination);
    match (&peer.identity, own) {
        (Some(peer), Some(own)) => labels.mutual_tls(peer, &own),
        _ => labels,
    }
}
