//! The IPv6 half of the lab's wiring (ipv6 and dual labs): node fabric and gateway addresses,
//! forwarding and routes between nodes, pod and external-host addresses and routes. Every
//! address is a lab-only ULA (`family.rs`) added inside a lab namespace, without DAD.

use super::family::{addr_args, pod_ip6, pod_net6, FABRIC_RANGE6, POD_RANGE6};
use super::run::{in_netns, ip_in};
use super::state::{Node, Pod};
use anyhow::Result;
use std::net::IpAddr;

/// `ip addr add ADDR dev DEV` in `netns` (`nodad` for IPv6).
pub(super) fn add_address(
    netns: &str,
    ip: IpAddr,
    v4_len: u8,
    v6_len: u8,
    dev: &str,
) -> Result<()> {
    let addr = addr_args(ip, v4_len, v6_len);
    let mut args = vec!["addr", "add"];
    args.extend(addr.iter().map(String::as_str));
    args.extend(["dev", dev]);
    ip_in(netns, &args).map(|_| ())
}

/// A node's IPv6 side: its fabric address, its pod gateway, forwarding, routes to the other
/// nodes' pod networks. Nothing for a node without an IPv6 address.
pub(super) fn wire_node(node: &Node, all: &[Node], bridge: &str) -> Result<()> {
    let Some(address) = node.address6 else {
        return Ok(());
    };
    add_address(&node.netns, address.into(), 0, 64, "eth0")?;
    let gateway = pod_ip6(node.index, 1);
    add_address(&node.netns, gateway.into(), 0, 64, bridge)?;
    in_netns(
        &node.netns,
        &["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"],
    )?;
    for other in all.iter().filter(|n| n.index != node.index) {
        let Some(via) = other.address6 else { continue };
        let range = pod_net6(other.index);
        ip_in(
            &node.netns,
            &["-6", "route", "add", &range, "via", &via.to_string()],
        )?;
    }
    Ok(())
}

/// A pod's IPv6 address on `eth0` and its routes to the pod ranges and the fabric through its
/// node's gateway. Nothing for a pod without an IPv6 address.
pub(super) fn wire_pod(pod: &Pod, node: &Node) -> Result<()> {
    let Some(ip) = pod.ips.iter().find(|ip| ip.is_ipv6()) else {
        return Ok(());
    };
    add_address(&pod.netns, *ip, 0, 64, "eth0")?;
    let gateway = pod_ip6(node.index, 1).to_string();
    for range in [POD_RANGE6, FABRIC_RANGE6] {
        ip_in(&pod.netns, &["-6", "route", "add", range, "via", &gateway])?;
    }
    Ok(())
}

/// An external host's IPv6 address on the fabric and its routes to each node's pod network.
pub(super) fn wire_external(host: &Pod, nodes: &[Node]) -> Result<()> {
    let Some(ip) = host.ips.iter().find(|ip| ip.is_ipv6()) else {
        return Ok(());
    };
    add_address(&host.netns, *ip, 0, 64, "eth0")?;
    for node in nodes {
        let Some(via) = node.address6 else { continue };
        let range = pod_net6(node.index);
        ip_in(
            &host.netns,
            &["-6", "route", "add", &range, "via", &via.to_string()],
        )?;
    }
    Ok(())
}
