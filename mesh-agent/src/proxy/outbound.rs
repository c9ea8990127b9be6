//! Outbound: connections a pod opened, redirected by `connect4` to the agent's listener on
//! 127.0.0.1:15001 in the pod's netns, handed to the connection entry with their original
//! destination.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;

use super::connection::{serve, Captured};
use super::listener::{Connection, PodListener};
use super::{outbound_tunnel, ProxyInputs};
use crate::net::{reset, ProxiedPod};

/// A pod's outbound capture listener.
pub struct Outbound(PodListener);

impl Outbound {
    /// Binds `addr` inside the pod's netns.
    pub async fn new(
        pod: Arc<ProxiedPod>,
        inputs: Arc<ProxyInputs>,
        addr: SocketAddr,
    ) -> io::Result<Self> {
        let tunnel = outbound_tunnel::pool_tunnel(&inputs, &pod);
        PodListener::bind(pod, inputs, addr, tunnel).await.map(Self)
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.0.address()
    }

    /// Accepts connections until the task is dropped; each runs in its own task.
    pub async fn run(self) {
        self.0.run("outbound", accept).await
    }
}

/// An accepted outbound connection: its original destination, recorded by `connect4`, then
/// the connection entry.
async fn accept(connection: Connection) {
    let (pod, inputs, peer) = (&connection.pod, &connection.inputs, connection.peer);
    if let Some(accelerate) = &inputs.on_outbound_accept {
        accelerate(connection.client.as_fd(), pod.netns_cookie, peer.port());
    }
    let Some(original_dst) = inputs.original_dsts.take(pod.netns_cookie, peer) else {
        if let Some(suppressed) = inputs.direct_connect_warnings.allow() {
            tracing::warn!(pod = %pod.name, %peer, suppressed, "no original destination; resetting");
        }
        return reset(connection.client);
    };
    serve(connection, Captured::Outbound { original_dst }).await
}
