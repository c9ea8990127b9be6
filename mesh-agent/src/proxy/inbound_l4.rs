//! The L4 path of an inbound connection: authorized by the workload's AuthorizationPolicies on
//! the peer ([`InboundPeer`]: plain text, or proven by the tunnel), then to the app on the pod's
//! own IP, dialled from inside the pod's netns, bytes copied both ways, decided again at every
//! configuration swap while it lasts.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;

use super::authorize::{custom_refusal, decide_connection, while_allowed, ConnectionPeer};
use super::connection_log::{ConnectionLog, TcpHop};
use super::forward::{Carried, ConnectionLifetime};
use super::listener::Connection;
use super::splice::forward_sockets;
use super::{ProxyInputs, TcpLabels};
use crate::authz::Decision;
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

/// The plain-text L4 path (`identity`: the same-node path's or none): the policies decide
/// before the app is dialled; the app is dialled on the address the client dialled, from
/// inside its own netns: the connection comes from the pod's own IP, which `sk_lookup` leaves
/// alone, and a listener bound to loopback only stays unreachable from outside the pod.
pub(super) async fn forward_to_app(
    connection: Connection,
    original: SocketAddr,
    snapshot: Arc<Snapshot>,
    identity: Option<&Identity>,
) {
    let (pod, inputs) = (&connection.pod, &connection.inputs);
    let app = SocketAddr::new(pod.ip_like(original.ip()), original.port());
    let peer = InboundPeer {
        address: connection.peer,
        identity: identity.cloned(),
    };
    // Boxed: an open connection holds only the copy's state, not these steps'.
    let refused = Box::pin(custom_refused(inputs, pod, &peer, app, &snapshot)).await;
    if let Some(details) = refused {
        count_refused(inputs, pod, &peer, app, &snapshot, (&details, "UAEX"));
        return drop(connection.client);
    }
    let decision = authorize(inputs, pod, &peer, app, &snapshot);
    if !decision.allowed {
        count_denied(inputs, pod, &peer, app, &snapshot, &details(&decision));
        return drop(connection.client);
    }
    let upstream = match Box::pin(connect_app(pod, inputs, app)).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::debug!(pod = %pod.name, %original, %error, "app connect failed; resetting");
            return reset(connection.client);
        }
    };
    let (pod, inputs) = (pod.clone(), inputs.clone());
    carry_allowed(
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

/// The policies' decision on `peer`'s TCP connection to `app` of `pod`.
pub(super) fn authorize(
    inputs: &ProxyInputs,
    pod: &ProxiedPod,
    peer: &InboundPeer,
    app: SocketAddr,
    snapshot: &Snapshot,
) -> Decision {
    let asking = ConnectionPeer {
        address: peer.address,
        identity: peer.identity.as_ref(),
    };
    let workload = snapshot.pod_workload(pod);
    decide_connection(inputs, snapshot, &workload, pod.ip, asking, app)
}

/// Why the CUSTOM policy's external authorizer refuses `peer`'s TCP connection to `app` of
/// `pod`, if one of its rules matches and the authorizer says no.
pub(super) async fn custom_refused(
    inputs: &ProxyInputs,
    pod: &ProxiedPod,
    peer: &InboundPeer,
    app: SocketAddr,
    snapshot: &Snapshot,
) -> Option<String> {
    let asking = ConnectionPeer {
        address: peer.address,
        identity: peer.identity.as_ref(),
    };
    let workload = snapshot.pod_workload(pod);
    custom_refusal(inputs, snapshot, &workload, pod.ip, asking, app).await
}

/// What the access log says of a denial by `decision`.
pub(super) fn details(decision: &Decision) -> String {
    decision.details().unwrap_or_default()
}

/// Counts a refused connection (`response_flags="DENY"`) and logs it naming the rule
/// (`details`).
pub(super) fn count_denied(
    inputs: &ProxyInputs,
    pod: &ProxiedPod,
    peer: &InboundPeer,
    app: SocketAddr,
    snapshot: &Snapshot,
    details: &str,
) {
    count_refused(inputs, pod, peer, app, snapshot, (details, "DENY"));
}

/// Counts a refused connection with `flag` (`DENY`, or `UAEX` for the external authorizer)
/// and logs it with `details`.
pub(super) fn count_refused(
    inputs: &ProxyInputs,
    pod: &ProxiedPod,
    peer: &InboundPeer,
    app: SocketAddr,
    snapshot: &Snapshot,
    (details, flag): (&str, &'static str),
) {
    let labels = destination_labels(pod, peer, app, snapshot).with_response_flags(flag);
    drop(inputs.metrics.open(&labels));
    let log = ConnectionLog::start(&inputs.http.observers, hop(pod, peer, app, snapshot));
    if let Some(log) = log {
        log.refused(flag, details);
    }
}

/// Copies between `client` and the app's `upstream` if the policies allow `peer` (else both
/// are closed, counted and logged as denied).
#[allow(clippy::too_many_arguments)]
pub(super) async fn carry(
    client: impl Carried,
    upstream: TcpStream,
    pod: &ProxiedPod,
    inputs: &ProxyInputs,
    peer: &InboundPeer,
    app: SocketAddr,
    snapshot: &Snapshot,
) {
    let decision = authorize(inputs, pod, peer, app, snapshot);
    if !decision.allowed {
        return count_denied(inputs, pod, peer, app, snapshot, &details(&decision));
    }
    carry_allowed(client, upstream, pod, inputs, peer, app, snapshot).await
}

/// Copies between `client` and the app's `upstream`, counted and logged as the destination
/// side (through the tunnel: `mutual_tls` and the certificates' principals), until the
/// connection ends or a configuration swap makes the policies deny it.
pub(super) async fn carry_allowed(
    client: impl Carried,
    upstream: TcpStream,
    pod: &ProxiedPod,
    inputs: &ProxyInputs,
    peer: &InboundPeer,
    app: SocketAddr,
    snapshot: &Snapshot,
) {
    let labels = destination_labels(pod, peer, app, snapshot);
    let log = ConnectionLog::start(&inputs.http.observers, hop(pod, peer, app, snapshot));
    let metrics = inputs.metrics.open(&labels);
    let lifetime = ConnectionLifetime::default();
    let splicer = inputs.splice.as_ref();
    let forwarding = forward_sockets(splicer, client, upstream, metrics, log, lifetime);
    let decide = |now: &Snapshot| authorize(inputs, pod, peer, app, now);
    while_allowed(forwarding, &inputs.config, decide).await;
}

/// The access log's view of the connection.
fn hop(pod: &ProxiedPod, peer: &InboundPeer, app: SocketAddr, snapshot: &Snapshot) -> TcpHop {
    TcpHop {
        reporter: Reporter::destination,
        source: snapshot.workload(peer.address.ip()).cloned(),
        destination: Some(snapshot.pod_workload(pod)),
        pod_ip: pod.ip,
        downstream: peer.address,
        upstream: app,
    }
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
