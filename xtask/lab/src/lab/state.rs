//! The lab's recorded state (`state.json`): nodes, pods, Services and namespaces with their labels.

use super::family::IpFamily;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// Labels or a selector: key → value.
pub type Labels = BTreeMap<String, String>;

/// Everything the lab created, written after every change.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub(super) name: String,
    pub(super) cgroup_root: PathBuf,
    pub(super) nodes: Vec<Node>,
    pub(super) namespaces: BTreeMap<String, Labels>,
    pub(super) pods: Vec<Pod>,
    pub(super) services: Vec<Service>,
    /// Round-robin cursor for pods that name no node.
    pub(super) next_node: usize,
    /// The families of pod and Service addresses (`lab up --ip-family`).
    #[serde(default)]
    pub(super) ip_family: IpFamily,
    /// Names set at runtime in the lab's DNS (`lab dns set`), over what it would answer.
    #[serde(default)]
    pub(super) dns_names: BTreeMap<String, Vec<IpAddr>>,
    /// The agents' workload certificate lifetime (`lab up --cert-ttl-secs`).
    #[serde(default)]
    pub(super) cert_ttl_secs: Option<u64>,
    /// Extra flags of this lab's agents (`UpOptions::agent_args`).
    #[serde(default)]
    pub(super) agent_args: Vec<String>,
    /// The agents run without certificates (`UpOptions::plaintext`).
    #[serde(default)]
    pub(super) plaintext: bool,
}

/// A lab node: a network namespace with a bridge for its pods and its own cgroup subtree.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Node {
    pub(super) name: String,
    pub(super) index: u8,
    pub(super) netns: String,
    pub(super) address: Ipv4Addr,
    /// The node's IPv6 address on the fabric, in ipv6 and dual labs.
    #[serde(default)]
    pub(super) address6: Option<Ipv6Addr>,
    pub(super) cgroup: PathBuf,
    /// Its agents run `--fail-closed` (`lab up --fail-closed`, `lab agent start NODE
    /// --fail-closed`): stopped or killed, they leave the pods captured and refusing.
    #[serde(default)]
    pub(super) fail_closed: bool,
    /// The node's labels (`lab up --node-label`): a labelled node's agent plays the gateway
    /// workload they describe (`gateway.rs`).
    #[serde(default)]
    pub(super) labels: Labels,
}

/// A pod: a network namespace, a cgroup, a hosts file and its containers' processes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pod {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) uid: String,
    /// `None` for an external host.
    pub(super) node: Option<String>,
    /// The pod's addresses, one per family of the lab, IPv4 first (`status.podIPs`).
    pub(super) ips: Vec<IpAddr>,
    /// Its host number on its node's pod network (or the external segment): the last part of
    /// each of its addresses.
    pub(super) slot: u8,
    pub(super) meshed: bool,
    pub(super) netns: String,
    pub(super) cgroup: PathBuf,
    pub(super) labels: Labels,
    /// The hostname of an external host (`lab.mesh/external-host`).
    pub(super) external_host: Option<String>,
    /// The Deployment that made this pod, if any.
    pub(super) deployment: Option<String>,
    /// `spec.serviceAccountName`, passed to the agents' config; `None` means `default`.
    #[serde(default)]
    pub(super) service_account: Option<String>,
    /// `metadata.annotations`, passed to the agents' config.
    #[serde(default)]
    pub(super) annotations: Labels,
    pub(super) containers: Vec<Container>,
}

/// One container: the process run inside the pod.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Container {
    pub(super) name: String,
    /// `command` followed by `args`.
    pub(super) argv: Vec<String>,
    pub(super) env: Vec<(String, String)>,
    /// Declared ports `(name, containerPort)`, for Services whose `targetPort` is a name.
    #[serde(default)]
    pub(super) ports: Vec<(Option<String>, u16)>,
}

/// A Service with the ClusterIP the lab gave it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Service {
    pub(super) namespace: String,
    pub(super) name: String,
    /// Its ClusterIPs, one per family of the lab, IPv4 first (`spec.clusterIPs`).
    pub(super) cluster_ips: Vec<IpAddr>,
    pub(super) selector: Labels,
    pub(super) ports: Vec<ServicePort>,
}

/// A Service port as declared (`targetPort` kept as written: a number or a port name).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: u16,
    pub target_port: String,
    pub app_protocol: Option<String>,
    pub protocol: String,
}

impl State {
    /// Reads `state.json`.
    pub fn load(path: &Path) -> Result<State> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading lab state {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("broken lab state {}", path.display()))
    }

    /// Writes `state.json` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
    }

    /// The pod `namespace/name`.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.pods
            .iter()
            .find(|p| p.namespace == namespace && p.name == name)
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The Service `namespace/name`.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
    }
}

#[allow(dead_code, reason = "library API for the demo and the agent hook")]
impl Node {
    /// `node-N`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The node's network namespace.
    pub fn netns(&self) -> &str {
        &self.netns
    }
    /// The node's address on the fabric (`10.250.0.N`), where its agent listens.
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }
    /// The node's cgroup subtree (the agent attaches its programs here).
    pub fn cgroup(&self) -> &Path {
        &self.cgroup
    }
    /// The node's labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }
}

#[allow(dead_code, reason = "library API for the demo and the agent hook")]
impl Pod {
    /// The pod's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The pod's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    /// A unique id, for the agent's enrollment API.
    pub fn uid(&self) -> &str {
        &self.uid
    }
    /// The node the pod runs on; `None` for an external host.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }
    /// The pod's first IP (`status.podIP`).
    pub fn ip(&self) -> IpAddr {
        self.ips[0]
    }
    /// The pod's IPs, IPv4 first.
    pub fn ips(&self) -> &[IpAddr] {
        &self.ips
    }
    /// Whether the pod is in the mesh.
    pub fn meshed(&self) -> bool {
        self.meshed
    }
    /// The pod's network namespace name.
    pub fn netns(&self) -> &str {
        &self.netns
    }
    /// The pod's network namespace path (`/run/netns/<netns>`).
    pub fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.netns)
    }
    /// The pod's cgroup.
    pub fn cgroup(&self) -> &Path {
        &self.cgroup
    }
    /// The pod's labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }
    /// The hostname of an external host; `None` for a pod of the cluster.
    pub fn external_host(&self) -> Option<&str> {
        self.external_host.as_deref()
    }
}

#[allow(dead_code, reason = "library API for the demo and the agent hook")]
impl Service {
    /// The Service's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The Service's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    /// The first ClusterIP (`spec.clusterIP`).
    pub fn cluster_ip(&self) -> IpAddr {
        self.cluster_ips[0]
    }
    /// The ClusterIPs, IPv4 first.
    pub fn cluster_ips(&self) -> &[IpAddr] {
        &self.cluster_ips
    }
    /// The pods this Service selects.
    pub fn selector(&self) -> &Labels {
        &self.selector
    }
    /// The declared ports.
    pub fn ports(&self) -> &[ServicePort] {
        &self.ports
    }
}
