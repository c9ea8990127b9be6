//! The pods enrolled on this node, by IP, and the same-node fast path they allow: an outbound
//! connection whose endpoint is a local pod is dialled straight to the app on that pod's own IP,
//! from inside its netns (so a loopback-only listener stays private), skipping the hop through the pod's inbound listener (one TCP
//! crossing and one accept/connect per connection fewer, as ztunnel does).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::net::TcpStream;

use super::connection_log::{ConnectionLog, TcpHop};
use super::TcpLabels;
use crate::facts::Reporter;
use crate::net::ProxiedPod;
use crate::net::{connect, UpstreamSockets};
use crate::observe::RequestObservers;
use crate::snapshot::Snapshot;

/// Enrolled pods by pod IP, kept current by enrollment. Cheap to clone (shared index).
#[derive(Clone)]
pub struct LocalPods {
    by_ip: Arc<RwLock<HashMap<IpAddr, Arc<ProxiedPod>>>>,
    fast_path: bool,
}

impl Default for LocalPods {
    /// An empty index with the fast path on (the agent's default).
    fn default() -> Self {
        Self::new(true)
    }
}

impl LocalPods {
    /// An empty index; `fast_path` false keeps every connection on the two-hop path
    /// (`--no-same-node-fast-path`, for comparison).
    pub fn new(fast_path: bool) -> Self {
        Self {
            by_ip: Arc::default(),
            fast_path,
        }
    }

    /// Indexes an enrolled pod under each of its IPs.
    pub fn insert(&self, pod: Arc<ProxiedPod>) {
        let mut by_ip = self.by_ip.write().unwrap_or_else(PoisonError::into_inner);
        for ip in &pod.ips {
            by_ip.insert(*ip, pod.clone());
        }
    }

    /// Forgets `pod`, except the IPs that now belong to another netns (a newer pod).
    pub fn remove(&self, pod: &ProxiedPod) {
        let mut by_ip = self.by_ip.write().unwrap_or_else(PoisonError::into_inner);
        for ip in &pod.ips {
            if by_ip
                .get(ip)
                .is_some_and(|p| p.netns_cookie == pod.netns_cookie)
            {
                by_ip.remove(ip);
            }
        }
    }

    /// The local pod with IP `ip`, if any.
    pub fn get(&self, ip: IpAddr) -> Option<Arc<ProxiedPod>> {
        let by_ip = self.by_ip.read().unwrap_or_else(PoisonError::into_inner);
        by_ip.get(&ip).cloned()
    }

    /// Where a connection to `endpoint` is dialled when it takes the fast path: the
    /// destination pod and the app's address in its netns. `None` when the endpoint is not a
    /// local pod or the fast path is off.
    ///
    /// The inbound listener is skipped, so the caller runs the destination pod's
    /// authorization policies itself (`outbound_l4`).
    pub fn fast_path(&self, endpoint: SocketAddr) -> Option<SameNodeHop> {
        if !self.fast_path {
            return None;
        }
        let pod = self.get(endpoint.ip())?;
        Some(SameNodeHop { pod, endpoint })
    }
}

/// A connection taking the same-node fast path.
pub struct SameNodeHop {
    /// The destination pod; the upstream socket is created in its netns.
    pub pod: Arc<ProxiedPod>,
    /// The endpoint the connection was balanced to (`POD_IP:port`): the app's address, dialled
    /// from inside the pod's netns.
    pub endpoint: SocketAddr,
}

impl SameNodeHop {
    /// Connects to the app from a socket inside the destination pod's netns.
    pub async fn connect(&self, sockets: &UpstreamSockets) -> io::Result<TcpStream> {
        connect(&self.pod.netns, self.endpoint, sockets).await
    }

    /// The access-log line the skipped inbound hop would have written (reporter
    /// `destination`), for a connection from `source` (the client pod's IP, its port as the
    /// outbound listener saw it); `None` when that side does not log it.
    pub fn destination_log(
        &self,
        observers: &RequestObservers,
        source: SocketAddr,
        snapshot: &Snapshot,
    ) -> Option<ConnectionLog> {
        let hop = TcpHop {
            reporter: Reporter::destination,
            source: snapshot.workload(source.ip()).cloned(),
            destination: Some(snapshot.pod_workload(&self.pod)),
            pod_ip: self.pod.ip,
            downstream: source,
            upstream: self.endpoint,
        };
        ConnectionLog::start(observers, hop)
    }

    /// The labels the skipped inbound hop would have reported (reporter `destination`), for a
    /// connection from `source_ip`.
    pub fn destination_labels(&self, source_ip: IpAddr, snapshot: &Snapshot) -> TcpLabels {
        let source = snapshot.workload(source_ip).cloned();
        let destination = snapshot.pod_workload(&self.pod);
        let service = snapshot
            .service_of_endpoint(self.endpoint)
            .map(|(s, _)| s.clone());
        TcpLabels::new(
            Reporter::destination,
            source.as_deref(),
            Some(&destination),
            service.as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Netns;

    async fn pod(name: &str, ip: &str, netns_cookie: u64) -> Arc<ProxiedPod> {
        Arc::new(ProxiedPod {
            namespace: "shop".into(),
            name: name.into(),
            ip: ip.parse().unwrap(),
            ips: vec![ip.parse().unwrap()],
            netns: Netns::current().unwrap(),
            netns_cookie,
        })
    }

    #[tokio::test]
    async fn a_local_endpoint_is_dialled_on_its_pods_own_address() {
        let pods = LocalPods::default();
        pods.insert(pod("web-0", "10.244.1.5", 7).await);
        let hop = pods.fast_path("10.244.1.5:8080".parse().unwrap()).unwrap();
        assert_eq!(hop.pod.name, "web-0");
        assert_eq!(hop.endpoint, "10.244.1.5:8080".parse().unwrap());
        assert!(pods.fast_path("10.244.2.9:8080".parse().unwrap()).is_none());
    }

    #[tokio::test]
    async fn the_fast_path_can_be_turned_off() {
        let pods = LocalPods::new(false);
        pods.insert(pod("web-0", "10.244.1.5", 7).await);
        assert!(pods.get("10.244.1.5".parse().unwrap()).is_some());
        assert!(pods.fast_path("10.244.1.5:8080".parse().unwrap()).is_none());
    }

    #[tokio::test]
    async fn removing_a_pod_keeps_a_newer_pod_with_its_ip() {
        let pods = LocalPods::default();
        let (old, new) = (
            pod("web-0", "10.244.1.5", 7).await,
            pod("web-1", "10.244.1.5", 8).await,
        );
        pods.insert(old.clone());
        pods.insert(new);
        pods.remove(&old);
        assert_eq!(pods.get(old.ip).unwrap().name, "web-1");
        let newer = pods.get(old.ip).unwrap();
        pods.remove(&newer);
        assert!(pods.get(old.ip).is_none());
    }
}
