//! The L4 path of an inbound connection: to the app on the pod's own IP, dialled from inside the
//! pod's netns, then bytes copied both ways.

use std::net::SocketAddr;
use std::sync::Arc;

use super::connection_log::{ConnectionLog, TcpHop};
use super::forward::forward;
use super::listener::Connection;
use super::TcpLabels;
use crate::facts::Reporter;
use crate::net::{connect, reset};
use crate::snapshot::Snapshot;

/// The L4 path: the app is dialled on the address the client dialled, from inside its own
/// netns: the connection comes from the pod's own IP, which `sk_lookup` leaves alone, and a
/// listener bound to loopback only stays unreachable from outside the pod.
pub(super) async fn forward_to_app(
    connection: Connection,
    original: SocketAddr,
    snapshot: Arc<Snapshot>,
) {
    let (pod, inputs, peer) = (&connection.pod, &connection.inputs, connection.peer);
    let app = SocketAddr::new(pod.ip_like(original.ip()), original.port());
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
