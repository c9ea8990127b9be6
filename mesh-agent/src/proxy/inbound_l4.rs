//! The L4 path of an inbound connection: authorized by the workload's AuthorizationPolicies,
//! then to the app on the pod's own IP, dialled from inside the pod's netns, bytes copied both
//! ways.

use std::net::SocketAddr;
use std::sync::Arc;

use super::authorize::{decide_connection, refuse, while_allowed, ConnectionPeer};
use super::connection_log::{ConnectionLog, TcpHop};
use super::forward::forward;
use super::listener::Connection;
use super::TcpLabels;
use crate::facts::Reporter;
use crate::identity::Identity;
use crate::net::{connect, reset};
use crate::snapshot::Snapshot;

/// The L4 path: the policies decide on the connection from the peer (`identity`: proven by
/// the tunnel, `None` for plain text); the app is dialled on the address the client dialled,
/// from inside its own netns: the connection comes from the pod's own IP, which `sk_lookup`
/// leaves alone, and a listener bound to loopback only stays unreachable from outside the pod.
pub(super) async fn forward_to_app(
    connection: Connection,
    original: SocketAddr,
    snapshot: Arc<Snapshot>,
    identity: Option<&Identity>,
) {
    let (pod, inputs, peer) = (&connection.pod, &connection.inputs, connection.peer);
    let app = SocketAddr::new(pod.ip_like(original.ip()), original.port());
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
    let asking = ConnectionPeer {
        address: peer,
        identity,
    };
    let decision = decide_connection(inputs, &snapshot, &destination, pod.ip, asking, app);
    if !decision.allowed {
        let log = ConnectionLog::start(&inputs.http.observers, hop);
        let metrics = inputs.metrics.open(&labels.with_response_flags("DENY"));
        return refuse(connection.client, metrics, log, &decision);
    }
    let upstream = match connect(&pod.netns, app, &inputs.sockets).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::debug!(pod = %pod.name, %original, %error, "app connect failed; resetting");
            return reset(connection.client);
        }
    };
    let log = ConnectionLog::start(&inputs.http.observers, hop);
    let metrics = inputs.metrics.open(&labels);
    let forwarding = forward(connection.client, upstream, metrics, log);
    let decide = |now: &Snapshot| {
        let workload = now.pod_workload(pod);
        decide_connection(inputs, now, &workload, pod.ip, asking, app)
    };
    while_allowed(forwarding, &inputs.config, decide).await;
}
