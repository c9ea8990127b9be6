//! The enrolled pods: for each, its capture listeners inside its netns, their accept loops, and
//! its registration with the capture layer.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;

use mesh_common::{INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::capture::{CapturedPod, PodCapture};
use crate::net::Netns;
use crate::net::ProxiedPod;
use crate::proxy::{Inbound, Outbound, ProxyInputs};

/// A pod to enroll, as the enrollment API names it (also the record kept in the state dir).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PodToEnroll {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod UID.
    #[serde(default)]
    pub uid: String,
    /// The sandbox's container id (CNI `CNI_CONTAINERID`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Path of the pod's network namespace (`/var/run/netns/<n>`, `/proc/<pid>/ns/net`).
    pub netns: PathBuf,
    /// Pod IPs (`status.podIPs`; from the CNI result), at most one per family.
    pub ips: Vec<IpAddr>,
    /// The node's addresses on the pod network, the pod's gateways (kubelet probes come from
    /// them).
    #[serde(default)]
    pub node_ips: Vec<IpAddr>,
}

impl PodToEnroll {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// An enrolled pod, as `list` reports it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct EnrolledPod {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod UID.
    pub uid: String,
    /// The captured pod IP.
    pub ip: IpAddr,
    /// Every pod IP given at enrollment.
    pub ips: Vec<IpAddr>,
    /// The node addresses given at enrollment.
    pub node_ips: Vec<IpAddr>,
    /// The sandbox's container id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// The netns path it was enrolled with.
    pub netns: PathBuf,
    /// `SO_NETNS_COOKIE` of its netns.
    pub netns_cookie: u64,
}

/// Why a pod could not be enrolled or removed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// A pod of that namespace and name is enrolled already.
    #[error("pod {0} is already enrolled")]
    AlreadyEnrolled(String),
    /// The netns belongs to a pod enrolled under another name.
    #[error("netns {path} is already enrolled as pod {pod}")]
    NetnsTaken {
        /// The netns path.
        path: PathBuf,
        /// The pod enrolled with it.
        pod: String,
    },
    /// No pod of that namespace and name is enrolled.
    #[error("pod {0} is not enrolled")]
    NotEnrolled(String),
    /// The request's pod IPs are empty or hold two of one family.
    #[error("pod IPs {0:?}: expected one or two addresses, at most one per family")]
    PodIps(Vec<IpAddr>),
    /// The netns could not be opened or entered.
    #[error("netns {path}: {source}")]
    Netns {
        /// The netns path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A capture listener could not be created in the pod's netns.
    #[error("listener {addr} in the pod's netns: {source}")]
    Listen {
        /// The listener address.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// The capture layer refused the pod.
    #[error("capture: {0:#}")]
    Capture(anyhow::Error),
}

/// Where the capture listeners bind inside each pod netns. The IPv4 outbound listener is
/// always opened (IPv4-mapped connects of IPv6 sockets go there too); the IPv4 inbound one when
/// the pod has an IPv4 address, both IPv6 ones when it has an IPv6 address.
#[derive(Clone, Copy, Debug)]
pub struct ListenAddrs {
    /// Outbound listener, `127.0.0.1:15001`.
    pub outbound: SocketAddr,
    /// Inbound listener, `0.0.0.0:15006`.
    pub inbound: SocketAddr,
    /// IPv6 outbound listener, `[::1]:15001`.
    pub outbound6: SocketAddr,
    /// IPv6 inbound listener, `[::]:15006` (IPv6 only: `sk_lookup` steers each family to a
    /// listener of its own).
    pub inbound6: SocketAddr,
}

impl Default for ListenAddrs {
    fn default() -> Self {
        Self {
            outbound: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), OUTBOUND_CAPTURE_PORT),
            inbound: SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), INBOUND_CAPTURE_PORT),
            outbound6: SocketAddr::new(Ipv6Addr::LOCALHOST.into(), OUTBOUND_CAPTURE_PORT),
            inbound6: SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), INBOUND_CAPTURE_PORT),
        }
    }
}

/// Every pod the agent captures, keyed by `namespace/name`.
pub struct EnrolledPods {
    pods: Mutex<BTreeMap<String, Entry>>,
    capture: Arc<dyn PodCapture>,
    inputs: Arc<ProxyInputs>,
    listen: ListenAddrs,
    enrolled: Gauge,
}

struct Entry {
    pod: Arc<ProxiedPod>,
    spec: PodToEnroll,
    accept_loops: Vec<JoinHandle<()>>,
}

impl EnrolledPods {
    /// No pod enrolled yet; registers `mesh_enrolled_pods`.
    pub fn new(
        capture: Arc<dyn PodCapture>,
        inputs: Arc<ProxyInputs>,
        listen: ListenAddrs,
        registry: &mut Registry,
    ) -> Self {
        let enrolled = Gauge::default();
        registry.register(
            "mesh_enrolled_pods",
            "Pods enrolled in capture",
            enrolled.clone(),
        );
        Self {
            pods: Mutex::default(),
            capture,
            inputs,
            listen,
            enrolled,
        }
    }

    /// Opens the pod's netns, creates its listeners there, enrolls it for capture and starts
    /// accepting.
    pub async fn add(&self, spec: PodToEnroll) -> Result<EnrolledPod, EnrollError> {
        let key = spec.key();
        let ip = primary_ip(&spec.ips)?;
        let mut pods = self.pods.lock().await;
        if pods.contains_key(&key) {
            return Err(EnrollError::AlreadyEnrolled(key));
        }
        let netns_error = |source| EnrollError::Netns {
            path: spec.netns.clone(),
            source,
        };
        let netns = Netns::open(&spec.netns).map_err(netns_error)?;
        let netns_cookie = netns.cookie().await.map_err(netns_error)?;
        if let Some((other, _)) = pods
            .iter()
            .find(|(_, e)| e.pod.netns_cookie == netns_cookie)
        {
            let (path, pod) = (spec.netns.clone(), other.clone());
            return Err(EnrollError::NetnsTaken { path, pod });
        }
        let pod = Arc::new(ProxiedPod {
            namespace: spec.namespace.clone(),
            name: spec.name.clone(),
            ip,
            ips: spec.ips.clone(),
            netns,
            netns_cookie,
        });
        let accept_loops = self.start(&pod, spec.node_ips.clone()).await?;
        let entry = Entry {
            pod,
            spec,
            accept_loops,
        };
        let status = entry.status();
        self.inputs.local_pods.insert(entry.pod.clone());
        pods.insert(key, entry);
        self.enrolled.set(pods.len() as i64);
        tracing::info!(pod = %status.name, namespace = %status.namespace, cookie = netns_cookie, "pod enrolled");
        Ok(status)
    }

    /// Stops capturing the pod, then closes its listeners.
    pub async fn remove(&self, namespace: &str, name: &str) -> Result<(), EnrollError> {
        let key = format!("{namespace}/{name}");
        let mut pods = self.pods.lock().await;
        let entry = pods.remove(&key).ok_or(EnrollError::NotEnrolled(key))?;
        self.enrolled.set(pods.len() as i64);
        drop(pods);
        self.stop(entry).await
    }

    /// Every enrolled pod, by namespace and name.
    pub async fn list(&self) -> Vec<EnrolledPod> {
        self.pods.lock().await.values().map(Entry::status).collect()
    }

    /// The enrolled pod `namespace/name`, if any.
    pub async fn get(&self, namespace: &str, name: &str) -> Option<EnrolledPod> {
        let key = format!("{namespace}/{name}");
        self.pods.lock().await.get(&key).map(Entry::status)
    }

    /// Removes every pod (agent shutdown); failures are logged.
    pub async fn remove_all(&self) {
        let pods = std::mem::take(&mut *self.pods.lock().await);
        self.enrolled.set(0);
        for entry in pods.into_values() {
            let name = entry.pod.name.clone();
            if let Err(error) = self.stop(entry).await {
                tracing::warn!(pod = %name, %error, "unenroll failed");
            }
        }
    }

    /// Creates the listeners of the pod's families in its netns, enrolls the pod, spawns the
    /// accept loops.
    async fn start(
        &self,
        pod: &Arc<ProxiedPod>,
        node_ips: Vec<IpAddr>,
    ) -> Result<Vec<JoinHandle<()>>, EnrollError> {
        let has_v6 = pod.ips.iter().any(IpAddr::is_ipv6);
        let mut outbound = vec![self.outbound(pod, self.listen.outbound).await?];
        if has_v6 {
            outbound.push(self.outbound(pod, self.listen.outbound6).await?);
        }
        let mut inbound = Vec::new();
        for ip in &pod.ips {
            let addr = match ip {
                IpAddr::V4(_) => self.listen.inbound,
                IpAddr::V6(_) => self.listen.inbound6,
            };
            let listener = Inbound::new(pod.clone(), self.inputs.clone(), addr).await;
            inbound.push((*ip, listener.map_err(|source| listen_error(addr, source))?));
        }
        let captured = CapturedPod {
            netns_cookie: pod.netns_cookie,
            netns: pod.netns.fd(),
            node_ips,
            inbound_listeners: inbound
                .iter()
                .map(|(ip, listener)| (*ip, listener.listener().as_fd()))
                .collect(),
        };
        self.capture
            .enroll(&captured)
            .map_err(EnrollError::Capture)?;
        let outbound = outbound.into_iter().map(|o| tokio::spawn(o.run()));
        let inbound = inbound.into_iter().map(|(_, i)| tokio::spawn(i.run()));
        Ok(outbound.chain(inbound).collect())
    }

    /// An outbound listener of `pod` on `addr`.
    async fn outbound(
        &self,
        pod: &Arc<ProxiedPod>,
        addr: SocketAddr,
    ) -> Result<Outbound, EnrollError> {
        Outbound::new(pod.clone(), self.inputs.clone(), addr)
            .await
            .map_err(|source| listen_error(addr, source))
    }

    /// Removes the capture an agent before this one left for the pod in the netns at `path`,
    /// a pod this agent does not enroll (no longer meshed while no agent ran): a fail-closed
    /// predecessor's map entries and pinned `sk_lookup` link would refuse its connections.
    /// Nothing when the netns is gone or is an enrolled pod's (the path was reused).
    pub async fn forget(&self, path: &std::path::Path) -> Result<(), EnrollError> {
        let Ok(netns) = Netns::open(path) else {
            return Ok(());
        };
        let netns_error = |source| EnrollError::Netns {
            path: path.to_path_buf(),
            source,
        };
        let cookie = netns.cookie().await.map_err(netns_error)?;
        let pods = self.pods.lock().await;
        if pods.values().any(|e| e.pod.netns_cookie == cookie) {
            return Ok(());
        }
        self.capture.unenroll(cookie).map_err(EnrollError::Capture)
    }

    /// Stops every pod's accept loops, leaving the pods enrolled: a successor agent accepts on
    /// the same listeners and owns their capture now.
    pub async fn release_all(&self) {
        let pods = std::mem::take(&mut *self.pods.lock().await);
        for entry in pods.into_values() {
            self.inputs.local_pods.remove(&entry.pod);
            for accept_loop in entry.accept_loops {
                accept_loop.abort();
                let _ = accept_loop.await;
            }
        }
    }

    /// Unenrolls the pod, then stops its accept loops and waits until the listeners are closed.
    async fn stop(&self, entry: Entry) -> Result<(), EnrollError> {
        self.inputs.local_pods.remove(&entry.pod);
        let unenrolled = self.capture.unenroll(entry.pod.netns_cookie);
        for accept_loop in entry.accept_loops {
            accept_loop.abort();
            let _ = accept_loop.await;
        }
        tracing::info!(pod = %entry.pod.name, namespace = %entry.pod.namespace, "pod removed");
        unenrolled.map_err(EnrollError::Capture)
    }
}

fn listen_error(addr: SocketAddr, source: io::Error) -> EnrollError {
    EnrollError::Listen { addr, source }
}

/// The first of `ips`, when they are one or two addresses of different families.
fn primary_ip(ips: &[IpAddr]) -> Result<IpAddr, EnrollError> {
    match ips {
        [ip] => Ok(*ip),
        [a, b] if a.is_ipv4() != b.is_ipv4() => Ok(*a),
        _ => Err(EnrollError::PodIps(ips.to_vec())),
    }
}

impl Entry {
    fn status(&self) -> EnrolledPod {
        EnrolledPod {
            namespace: self.pod.namespace.clone(),
            name: self.pod.name.clone(),
            uid: self.spec.uid.clone(),
            ip: self.pod.ip,
            ips: self.spec.ips.clone(),
            node_ips: self.spec.node_ips.clone(),
            container_id: self.spec.container_id.clone(),
            netns: self.spec.netns.clone(),
            netns_cookie: self.pod.netns_cookie,
        }
    }
}
