//! The lab's wiring with `ip`: a fabric bridge, node namespaces with a pod bridge, pod and
//! external-host namespaces (their IPv6 side in `net6.rs`). Veth pairs are created directly between two lab namespaces, so
//! nothing ever appears in the host's namespace, and no namespace gets a default route.

use super::alloc::fabric_netns;
use super::net6::{self, add_address};
use super::run::{in_netns, ip, ip_in};
use super::state::{Node, Pod};
use anyhow::{Context, Result};

/// The bridge in the fabric namespace.
const FABRIC_BRIDGE: &str = "fabric0";
/// The bridge in each node namespace, gateway of the node's pods.
const NODE_BRIDGE: &str = "cbr0";
/// Every pod range; pods route it (and the fabric) through their node.
const POD_RANGES: &str = "10.244.0.0/16";
/// The fabric segment: nodes (10.250.0.N) and external hosts (10.250.1.M).
const FABRIC_RANGE: &str = "10.250.0.0/16";

/// Creates the fabric namespace and its bridge.
pub fn create_fabric(lab: &str) -> Result<()> {
    let fabric = fabric_netns(lab);
    add_netns(&fabric)?;
    add_bridge(&fabric, FABRIC_BRIDGE)?;
    ip_in(&fabric, &["link", "set", FABRIC_BRIDGE, "up"])?;
    Ok(())
}

/// Creates a node: its namespace on the fabric, its pod bridge and routes to the other nodes.
pub fn create_node(lab: &str, node: &Node, all: &[Node]) -> Result<()> {
    add_netns(&node.netns)?;
    let fabric_end = format!("n{}", node.index);
    link_to_fabric(lab, &fabric_end, &node.netns)?;
    ip_in(
        &node.netns,
        &[
            "addr",
            "add",
            &format!("{}/16", node.address),
            "dev",
            "eth0",
        ],
    )?;
    ip_in(&node.netns, &["link", "set", "eth0", "up"])?;
    add_bridge(&node.netns, NODE_BRIDGE)?;
    let gateway = format!("10.244.{}.1/24", node.index);
    ip_in(&node.netns, &["addr", "add", &gateway, "dev", NODE_BRIDGE])?;
    ip_in(&node.netns, &["link", "set", NODE_BRIDGE, "up"])?;
    in_netns(&node.netns, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
    for other in all.iter().filter(|n| n.index != node.index) {
        let range = format!("10.244.{}.0/24", other.index);
        ip_in(
            &node.netns,
            &["route", "add", &range, "via", &other.address.to_string()],
        )?;
    }
    net6::wire_node(node, all, NODE_BRIDGE)
}

/// Creates a pod's namespace, wired to its node's bridge, with routes only to the lab.
pub fn create_pod(pod: &Pod, node: &Node) -> Result<()> {
    add_netns(&pod.netns)?;
    let node_end = format!("veth{}", pod.slot);
    ip(&[
        "link",
        "add",
        &node_end,
        "netns",
        &node.netns,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &pod.netns,
    ])?;
    ip_in(
        &node.netns,
        &["link", "set", &node_end, "master", NODE_BRIDGE, "up"],
    )?;
    ip_in(&pod.netns, &["link", "set", "eth0", "up"])?;
    if let Some(ip) = pod.ips.iter().find(|ip| ip.is_ipv4()) {
        add_address(&pod.netns, *ip, 24, 0, "eth0")?;
        let gateway = format!("10.244.{}.1", node.index);
        for range in [POD_RANGES, FABRIC_RANGE] {
            ip_in(&pod.netns, &["route", "add", range, "via", &gateway])?;
        }
    }
    net6::wire_pod(pod, node)
}

/// Creates an external host on the fabric, outside every node, with routes to the pod ranges.
pub fn create_external(lab: &str, host: &Pod, nodes: &[Node]) -> Result<()> {
    add_netns(&host.netns)?;
    let fabric_end = format!("x{}", host.slot);
    link_to_fabric(lab, &fabric_end, &host.netns)?;
    ip_in(&host.netns, &["link", "set", "eth0", "up"])?;
    net6::wire_external(host, nodes)?;
    let Some(ip) = host.ips.iter().find(|ip| ip.is_ipv4()) else {
        return Ok(());
    };
    add_address(&host.netns, *ip, 16, 0, "eth0")?;
    for node in nodes {
        let range = format!("10.244.{}.0/24", node.index);
        ip_in(
            &host.netns,
            &["route", "add", &range, "via", &node.address.to_string()],
        )?;
    }
    Ok(())
}

/// Deletes a namespace (and with it the veth ends inside it); absent is fine.
pub fn delete_netns(name: &str) -> Result<()> {
    if !list_netns()?.iter().any(|n| n == name) {
        return Ok(());
    }
    ip(&["netns", "del", name]).map(|_| ())
}

/// Every named network namespace (`ip netns list`).
pub fn list_netns() -> Result<Vec<String>> {
    let out = ip(&["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect())
}

/// The pids of processes in a namespace (`ip netns pids`).
pub fn netns_pids(name: &str) -> Result<Vec<i32>> {
    let out = ip(&["netns", "pids", name])?;
    Ok(out.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// A new namespace with its loopback up.
pub fn add_netns(name: &str) -> Result<()> {
    ip(&["netns", "add", name]).with_context(|| format!("creating network namespace {name}"))?;
    ip_in(name, &["link", "set", "lo", "up"])?;
    Ok(())
}

/// A bridge in `netns`, without multicast snooping (IPv6 neighbour discovery is multicast, and
/// no querier runs in the lab).
fn add_bridge(netns: &str, name: &str) -> Result<()> {
    let args = ["link", "add", name, "type", "bridge", "mcast_snooping", "0"];
    ip_in(netns, &args).map(|_| ())
}

/// A veth pair: `fabric_end` on the fabric bridge, `eth0` in `netns`.
fn link_to_fabric(lab: &str, fabric_end: &str, netns: &str) -> Result<()> {
    let fabric = fabric_netns(lab);
    ip(&[
        "link", "add", fabric_end, "netns", &fabric, "type", "veth", "peer", "name", "eth0",
        "netns", netns,
    ])?;
    ip_in(
        &fabric,
        &["link", "set", fabric_end, "master", FABRIC_BRIDGE, "up"],
    )?;
    Ok(())
}
