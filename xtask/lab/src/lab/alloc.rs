//! Addresses and names: which node a pod goes to, its IPs, netns and cgroup; ClusterIPs (per
//! family of the lab, `family.rs`). Everything is decided here, before any kernel object
//! exists, so a full lab fails cleanly.

use super::family::{free_cluster_ip6, node_ip6};
use super::plan::{Placement, PodPlan, ServicePlan};
use super::state::{Labels, Node, Pod, Service, State};
use anyhow::{anyhow, bail, Result};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr};

/// A pod netns name longer than this is replaced by a hashed one.
const MAX_NETNS_NAME: usize = 48;
/// The first ClusterIP handed out: 10.96.0.10.
const FIRST_CLUSTER_IP: u32 = u32::from_be_bytes([10, 96, 0, 10]);
/// The last ClusterIP: 10.96.255.254.
const LAST_CLUSTER_IP: u32 = u32::from_be_bytes([10, 96, 255, 254]);

/// The nodes of a new lab: `node-1 … node-N`, 10.250.0.N (and fd00:10:250::N with IPv6),
/// cgroup `<root>/node-N`.
pub fn nodes(state: &State, count: u8) -> Vec<Node> {
    (1..=count)
        .map(|i| Node {
            name: format!("node-{i}"),
            index: i,
            netns: format!("{}-node-{i}", state.name),
            address: Ipv4Addr::new(10, 250, 0, i),
            address6: state.ip_family.has_v6().then(|| node_ip6(i)),
            cgroup: state.cgroup_root.join(format!("node-{i}")),
            fail_closed: false,
            labels: Default::default(),
        })
        .collect()
}

/// The fabric namespace: the segment every node and external host is wired to.
pub fn fabric_netns(lab: &str) -> String {
    format!("{lab}-fabric")
}

/// Places and addresses a planned pod and records it in `state`.
pub fn pod(state: &mut State, plan: &PodPlan, ns_labels: &Labels) -> Result<Pod> {
    let family = state.ip_family;
    let (node, slot, ips, cgroup_parent) = match &plan.external_host {
        Some(_) => {
            let slot = external_slot(state)?;
            let root = state.cgroup_root.join("external");
            (None, slot, family.external_ips(slot), root)
        }
        None => {
            let node = choose_node(state, &plan.placement)?.clone();
            let slot = pod_slot(state, &node)?;
            let ips = family.pod_ips(node.index, slot);
            (Some(node.name.clone()), slot, ips, node.cgroup.clone())
        }
    };
    let pod = Pod {
        namespace: plan.namespace.clone(),
        name: plan.name.clone(),
        uid: new_uid()?,
        node,
        ips,
        slot,
        meshed: plan.external_host.is_none() && is_meshed(&plan.labels, ns_labels),
        netns: pod_netns(state, &plan.namespace, &plan.name),
        cgroup: cgroup_parent.join(format!("{}.{}", plan.namespace, plan.name)),
        labels: plan.labels.clone(),
        external_host: plan.external_host.clone(),
        deployment: plan.deployment.clone(),
        service_account: plan.service_account.clone(),
        annotations: plan.annotations.clone(),
        containers: plan.containers.clone(),
    };
    state.pods.push(pod.clone());
    Ok(pod)
}

/// Gives a planned Service a ClusterIP per family of the lab (the one its YAML fixes, if any)
/// and records it in `state`.
pub fn service(state: &mut State, plan: &ServicePlan) -> Result<Service> {
    let taken: Vec<IpAddr> = state
        .services
        .iter()
        .flat_map(|s| s.cluster_ips.iter().copied())
        .collect();
    let given = |v4: bool| plan.cluster_ip.filter(|ip| ip.is_ipv4() == v4);
    let mut cluster_ips = Vec::new();
    if state.ip_family.has_v4() {
        let free = || {
            (FIRST_CLUSTER_IP..=LAST_CLUSTER_IP)
                .map(|ip| IpAddr::V4(Ipv4Addr::from(ip)))
                .find(|ip| !taken.contains(ip))
        };
        let ip = given(true).or_else(free);
        cluster_ips.push(ip.ok_or_else(|| anyhow!("no free ClusterIP left in 10.96.0.0/16"))?);
    }
    if state.ip_family.has_v6() {
        let free = || free_cluster_ip6(&taken).map(IpAddr::V6);
        let ip = given(false).or_else(free);
        cluster_ips.push(ip.ok_or_else(|| anyhow!("no free ClusterIP left in fd00:10:96::/112"))?);
    }
    let service = Service {
        namespace: plan.namespace.clone(),
        name: plan.name.clone(),
        cluster_ips,
        selector: plan.selector.clone(),
        ports: plan.ports.clone(),
    };
    state.services.push(service.clone());
    Ok(service)
}

/// In the mesh: the pod or its namespace says so (ambient or sidecar-injection label),
/// unless the pod opts out with `istio.io/dataplane-mode: none`.
pub fn is_meshed(pod_labels: &Labels, ns_labels: &Labels) -> bool {
    let says = |labels: &Labels| {
        labels.get("istio.io/dataplane-mode").map(String::as_str) == Some("ambient")
            || labels.get("istio-injection").map(String::as_str) == Some("enabled")
    };
    let opted_out = pod_labels
        .get("istio.io/dataplane-mode")
        .map(String::as_str)
        == Some("none");
    !opted_out && (says(pod_labels) || says(ns_labels))
}

fn choose_node<'s>(state: &'s mut State, placement: &Placement) -> Result<&'s Node> {
    let index = match placement {
        Placement::Node(name) => state
            .nodes
            .iter()
            .position(|n| &n.name == name)
            .ok_or_else(|| anyhow!("no node {name:?}"))?,
        Placement::Replica(i) => i % state.nodes.len(),
        Placement::Any => {
            state.next_node = state.next_node.wrapping_add(1);
            (state.next_node - 1) % state.nodes.len()
        }
    };
    Ok(&state.nodes[index])
}

/// A free host number on `node`'s pod network (1 is its gateway).
fn pod_slot(state: &State, node: &Node) -> Result<u8> {
    let on_node = |p: &&Pod| p.node.as_deref() == Some(node.name.as_str());
    let taken: Vec<u8> = state.pods.iter().filter(on_node).map(|p| p.slot).collect();
    (2..=254)
        .find(|k| !taken.contains(k))
        .ok_or_else(|| anyhow!("{} is full (253 pods)", node.name))
}

/// A free host number on the external segment.
fn external_slot(state: &State) -> Result<u8> {
    let external = |p: &&Pod| p.external_host.is_some();
    let taken: Vec<u8> = state.pods.iter().filter(external).map(|p| p.slot).collect();
    (1..=254)
        .find(|m| !taken.contains(m))
        .ok_or_else(|| anyhow!("the external segment is full (254 hosts)"))
}

/// `<lab>-<ns>-<pod>`, or `<lab>-pod-<hash>` when that is too long or already taken.
fn pod_netns(state: &State, namespace: &str, name: &str) -> String {
    let plain = format!("{}-{namespace}-{name}", state.name);
    let taken = |candidate: &str| {
        candidate == fabric_netns(&state.name)
            || state.nodes.iter().any(|n| n.netns == candidate)
            || state.pods.iter().any(|p| p.netns == candidate)
    };
    if plain.len() <= MAX_NETNS_NAME && !taken(&plain) {
        return plain;
    }
    let mut hasher = DefaultHasher::new();
    (namespace, name).hash(&mut hasher);
    format!("{}-pod-{:016x}", state.name, hasher.finish())
}

fn new_uid() -> Result<String> {
    let uid = std::fs::read_to_string("/proc/sys/kernel/random/uuid")?;
    if uid.trim().is_empty() {
        bail!("the kernel gave no uuid");
    }
    Ok(uid.trim().to_string())
}
