//! The one entry of a captured connection, top to bottom: the listener hands it over with what
//! it was addressed to; the declared protocol or the first bytes say what it speaks; an explicit
//! `match` carries it on the HTTP path (the request stack) or the L4 path (outbound or inbound).

use std::net::SocketAddr;

use super::listener::Connection;
use super::protocol::{self, Declared, Protocol};
use super::{inbound_l4, outbound_l4};
use crate::facts::Reporter;
use crate::http::{request_stack, Direction, PeerSecurity, Peers, Pool};
use crate::identity::Identity;
use crate::net::ProxiedPod;
use crate::snapshot::Snapshot;

/// What a captured connection was addressed to, by the side that captured it.
#[derive(Clone, Copy, Debug)]
pub enum Captured {
    /// A pod's outgoing connection to `original_dst` (a ClusterIP:port or any address).
    Outbound { original_dst: SocketAddr },
    /// A connection to the pod at `original_dst` (its IP and the port dialled).
    Inbound { original_dst: SocketAddr },
}

/// Serves `connection`, addressed as `captured` says: HTTP through the request stack, anything
/// else (declared TCP, opaque bytes, or silence within the detection window) forwarded at L4.
/// The peer is not authenticated (plain text).
pub async fn serve(connection: Connection, captured: Captured) {
    serve_authenticated(connection, captured, None).await
}

/// [`serve`] for a connection whose peer proved `identity` (the mTLS tunnel): inbound, the
/// authorization policies see it (`principals`, `namespaces`, `source.*`).
pub async fn serve_authenticated(
    connection: Connection,
    captured: Captured,
    identity: Option<Identity>,
) {
    let snapshot = connection.inputs.config.snapshot();
    let direction = captured.direction(&connection.pod);
    let declared = declared_protocol(&snapshot, direction);
    let window = connection.inputs.http.detect_window;
    // Boxed, as the paths below: what only the start of a connection needs is freed once done.
    let detected = Box::pin(protocol::choose(&connection.client, declared, window)).await;
    // Each path boxed: a connection's task holds the state of the path it takes, not the
    // largest of the three (the HTTP server's would be every idle TCP connection's size).
    match (detected, captured) {
        (Ok(Protocol::Http1 | Protocol::Http2), _) => {
            Box::pin(serve_http(connection, direction, &snapshot, identity)).await
        }
        (Ok(Protocol::Tcp) | Err(_), Captured::Outbound { original_dst }) => {
            Box::pin(outbound_l4::forward(connection, original_dst, snapshot)).await
        }
        (Ok(Protocol::Tcp) | Err(_), Captured::Inbound { original_dst }) => {
            let identity = identity.as_ref();
            Box::pin(inbound_l4::forward_to_app(
                connection,
                original_dst,
                snapshot,
                identity,
            ))
            .await
        }
    }
}

impl Captured {
    /// The direction the request stack routes by.
    /// Inbound, the app is dialled on the pod's IP of the family the client dialled.
    fn direction(self, pod: &ProxiedPod) -> Direction {
        match self {
            Captured::Outbound { original_dst } => Direction::Outbound { original_dst },
            Captured::Inbound { original_dst } => Direction::Inbound {
                original_dst,
                pod_ip: pod.ip_like(original_dst.ip()),
            },
        }
    }
}

/// The HTTP path: each request of the connection through a request stack of its own.
async fn serve_http(
    connection: Connection,
    direction: Direction,
    snapshot: &Snapshot,
    identity: Option<Identity>,
) {
    let Connection {
        client,
        peer,
        pod,
        inputs,
        http_pool,
        permit: _permit,
    } = connection;
    let mut peers = Peers {
        peer_identity: identity,
        ..peers(snapshot, direction, &pod, peer)
    };
    if let (Reporter::source, Some(_)) = (peers.reporter, &inputs.tunnels) {
        let source = peers
            .source
            .as_deref()
            .and_then(super::outbound_tunnel::identity);
        if let Some(source) = source {
            peers.security = PeerSecurity::MeshedThroughTunnel { source };
        }
    }
    let config = inputs.config.clone();
    let stack = request_stack(
        &inputs.http,
        config,
        peers,
        direction,
        Pool::clone(&http_pool),
    );
    let http = &inputs.http;
    crate::http::serve(client, stack, &http.drain, http.downstream).await;
}

/// The protocol declared for the Service port the connection is addressed to.
pub(super) fn declared_protocol(snapshot: &Snapshot, direction: Direction) -> Option<Declared> {
    let (_, port) = match direction {
        Direction::Outbound { original_dst } => snapshot.outbound_service(original_dst),
        Direction::Inbound {
            original_dst,
            pod_ip,
        } => snapshot.service_of_endpoint(SocketAddr::new(pod_ip, original_dst.port())),
        Direction::Gateway { .. } => None,
    }?;
    Declared::of_port(port.protocol)
}

/// Who talks to whom, as telemetry reports it from this side.
fn peers(snapshot: &Snapshot, direction: Direction, pod: &ProxiedPod, peer: SocketAddr) -> Peers {
    match direction {
        Direction::Outbound { .. } | Direction::Gateway { .. } => Peers {
            reporter: Reporter::source,
            source: Some(snapshot.pod_workload(pod)),
            destination: None,
            pod_ip: Some(pod.ip),
            downstream: Some(peer),
            security: PeerSecurity::None,
            peer_identity: None,
        },
        Direction::Inbound { .. } => Peers {
            reporter: Reporter::destination,
            source: snapshot.workload(peer.ip()).cloned(),
            destination: Some(snapshot.pod_workload(pod)),
            pod_ip: Some(pod.ip),
            downstream: Some(peer),
            security: PeerSecurity::None,
            peer_identity: None,
        },
    }
}
