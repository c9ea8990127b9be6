//! Inbound: connections to a pod's IP, steered by `sk_lookup` to the agent's listener on port
//! 15006 in the pod's netns, forwarded to the app in that same netns.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

use super::connection_log::{ConnectionLog, TcpHop};
use super::forward::forward;
use super::listener::{Accepted, PodListener};
use super::socket::{connect, reset};
use super::{ProxiedPod, ProxyInputs, Reporter, TcpLabels};

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
    let app = app_address(original);
    let upstream = match connect(&pod.netns, app, &inputs.sockets).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::debug!(pod = %pod.name, %original, %error, "app connect failed; resetting");
            return reset(client);
        }
    };
    let snapshot = inputs.config.snapshot();
    let source = snapshot.workload(peer.ip()).cloned();
    let destination = pod.workload(&snapshot);
    let endpoint = SocketAddr::new(pod.ip, original.port());
    let service = snapshot
        .service_of_endpoint(endpoint)
        .map(|(s, _)| s.clone());
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

/// Where the app is reached for a connection addressed to `original`: the same port on the
/// pod's loopback address, from a marked socket inside the pod's netns.
///
/// The app therefore sees the connection come from `127.0.0.1` (an ephemeral port), not from the
/// client pod: the agent cannot use the client's address as source without transparent-proxy
/// routing in every pod, and dialling the pod IP instead would be steered back to this listener
/// by `sk_lookup` (it matches `POD_IP:*`). The client's identity is kept in the telemetry. An app
/// that listens on the pod IP only (not on 0.0.0.0 or loopback) is not reachable this way.
pub fn app_address(original: SocketAddr) -> SocketAddr {
    let loopback = match original.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    SocketAddr::new(loopback, original.port())
}
