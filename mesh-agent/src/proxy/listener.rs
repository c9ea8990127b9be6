//! What a pod's outbound and inbound capture listeners share: a socket bound inside the pod's
//! netns, the pod, the proxy inputs and the pod's HTTP upstream pool, and the accept loop that
//! hands each [`Connection`] on. Every pod has its own listeners (and kernel accept queues),
//! each with its own accept task taking one connection a turn: pods are served round-robin.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;

use super::ProxyInputs;
use crate::http::{Pool, PoolTunnel};
use crate::net::ProxiedPod;
use crate::net::{listen, AcceptBackoff};
use crate::resources::pod_limits::PodLimits;

/// A listener inside a pod's netns with what every accepted connection needs.
pub(super) struct PodListener {
    pub(super) listener: crate::net::Listener,
    pub(super) pod: Arc<ProxiedPod>,
    pub(super) inputs: Arc<ProxyInputs>,
    pub(super) http_pool: Arc<Pool>,
}

/// A captured connection as its listener hands it on.
pub struct Connection {
    /// The client's socket, nothing read from it yet.
    pub client: TcpStream,
    /// The client's address.
    pub peer: SocketAddr,
    /// The pod whose listener accepted it.
    pub pod: Arc<ProxiedPod>,
    /// What every connection shares.
    pub inputs: Arc<ProxyInputs>,
    /// The pod's pooled upstream HTTP connections (behind an `Arc`: every frame of a
    /// connection's task holds this struct, for the connection's whole life).
    pub http_pool: Arc<Pool>,
    /// Its place under the connection caps, given back when it ends.
    pub permit: super::ConnectionPermit,
}

impl PodListener {
    /// Binds `addr` inside the pod's netns; its HTTP pool goes through `tunnel` where that
    /// plans it.
    pub(super) async fn bind(
        pod: Arc<ProxiedPod>,
        inputs: Arc<ProxyInputs>,
        addr: SocketAddr,
        tunnel: Option<PoolTunnel>,
    ) -> io::Result<Self> {
        let listener = listen(&pod.netns, addr).await?;
        let http_pool = Pool::with(pod.netns.clone(), inputs.sockets.clone(), tunnel, None);
        let http_pool = Arc::new(http_pool);
        Ok(Self {
            listener,
            pod,
            inputs,
            http_pool,
        })
    }

    /// The bound address.
    pub(super) fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The pod's cap annotations as the snapshot in force has them.
    fn own_limits(&self) -> PodLimits {
        let snapshot = self.inputs.config.snapshot();
        snapshot
            .workload(self.pod.ip)
            .map(|w| w.limits)
            .unwrap_or_default()
    }

    /// Accepts connections until the task is dropped or the agent drains (the listener closes
    /// then); each runs `proxy` in its own task, counted open and cut when the drain time ends.
    pub(super) async fn run<F, Fut>(self, side: &'static str, proxy: F)
    where
        F: Fn(Connection) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let drain = self.inputs.http.drain.clone();
        let pod: Arc<str> = format!("{}/{}", self.pod.namespace, self.pod.name).into();
        let mut backoff = AcceptBackoff::default();
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = drain.draining() => return,
            };
            let (client, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    backoff.after(&error, &self.pod.name, side).await;
                    continue;
                }
            };
            backoff.reset();
            // Past a cap: closed at once (dropped), counted by the caps.
            let own = self.own_limits().max_connections;
            let Some(permit) = self.inputs.caps.admit(&pod, own) else {
                continue;
            };
            tokio::spawn(drain.track(proxy(Connection {
                client,
                peer,
                pod: self.pod.clone(),
                inputs: self.inputs.clone(),
                http_pool: self.http_pool.clone(),
                permit,
            })));
            // One connection a turn, then the other pods' accept loops run: the pods' accept
            // queues are served round-robin however fast one pod connects (tokio's budget
            // alone would let a flooding pod take 128 in a row).
            tokio::task::yield_now().await;
        }
    }
}
