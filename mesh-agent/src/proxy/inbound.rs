//! Inbound: connections to a pod's IP, steered by `sk_lookup` to the agent's listener on port
//! 15006 in the pod's netns, forwarded to the app on the pod's IP from inside that same netns.
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

use tokio::net::{TcpListener, TcpStream};

use super::connection_log::{ConnectionLog, TcpHop};
use super::forward::forward;
use super::listener::{Accepted, PodListener};
use super::{ProxyInputs, TcpLabels};
use crate::facts::Reporter;
use crate::net::ProxiedPod;
use crate::net::{connect, reset};

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
        let proxy = move |a: Accepted| {
            proxy_inbound(a.client, a.peer, own_port, a.pod, a.inputs, a.http_pool)
        };
        self.0.run("inbound", proxy).await
    }
}

/// One inbound connection, top to bottom.
async fn proxy_inbound(
    client: TcpStream,
    peer: SocketAddr,
    own_port: u16,
    pod: Arc<ProxiedPod>,
    inputs: Arc<ProxyInputs>,
    http_pool: crate::http::Pool,
) {
    // `sk_lookup` steers without rewriting: the local address is what the client dialled.
    let original = match client.local_addr() {
        Ok(original) if original.port() != own_port => original,
        _ => {
            tracing::debug!(pod = %pod.name, %peer, "connection addressed to the listener itself; resetting");
            return reset(client);
        }
    };
    let direction = crate::http::Direction::Inbound {
        original_dst: original,
        pod_ip: pod.ip,
    };
    let http = crate::http::serve_if_http(client, peer, direction, &pod, &inputs, &http_pool);
    let Some(client) = http.await else { return };
    // The app is dialled on the address the client dialled, from inside its own netns: the
    // connection comes from the pod's own IP, which `sk_lookup` leaves alone, and a listener
    // bound to loopback only stays unreachable from outside the pod.
    let app = SocketAddr::new(pod.ip, original.port());
    let upstream = match connect(&pod.netns, app, &inputs.sockets).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::debug!(pod = %pod.name, %original, %error, "app connect failed; resetting");
            return reset(client);
        }
    };
    let snapshot = inputs.config.snapshot();
    let source = snapshot.workload(peer.ip()).cloned();
    let destination = snapshot.pod_workload(&pod);
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
    forward(client, upstream, inputs.metrics.open(&labels), log).await;
}
