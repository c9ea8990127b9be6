//! Node-local destinations, which a gateway's upstream connections never reach: loopback,
//! link-local (the cloud metadata address among them), unspecified, multicast and broadcast
//! addresses, and the node's own addresses (every port of them: the agent's, the kubelet's).
//! Otherwise a Gateway routed to a ServiceEntry naming `127.0.0.1` or the node's IP would be a
//! way into the node from outside.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// How long the node's addresses are trusted before they are read again.
const NODE_ADDRESSES_TTL: Duration = Duration::from_secs(1);

/// Why a destination is node-local.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeLocalReason {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// `0.0.0.0`, `::`, multicast, broadcast: not one remote host.
    NotUnicast,
    /// An address of one of the node's interfaces.
    NodeAddress,
}

impl NodeLocalReason {
    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::LinkLocal => "link_local",
            Self::NotUnicast => "not_unicast",
            Self::NodeAddress => "node_address",
        }
    }
}

/// A connection to a node-local destination, refused before any packet is sent.
#[derive(Debug, thiserror::Error)]
#[error("gateway upstream {address} refused: node-local ({})", reason.label())]
pub struct NodeLocalRefused {
    pub address: IpAddr,
    pub reason: NodeLocalReason,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The check every gateway upstream connection passes, and its count
/// (`mesh_gateway_upstream_refused_total{reason}`).
#[derive(Debug)]
pub struct NodeLocalGuard {
    /// Addresses let through whatever they are (the in-process tests' loopback pods).
    exempt: Vec<IpAddr>,
    node_addresses: Mutex<Option<(Instant, Vec<IpAddr>)>>,
    refused: Family<ReasonLabel, Counter>,
}

impl NodeLocalGuard {
    /// A guard counting in `registry`, letting only `exempt` through among node-local addresses.
    pub fn register(registry: &mut Registry, exempt: Vec<IpAddr>) -> Self {
        let refused = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "mesh_gateway_upstream_refused",
            "Gateway upstream connections refused because the destination is node-local",
            refused.clone(),
        );
        Self {
            exempt,
            node_addresses: Mutex::new(None),
            refused,
        }
    }

    /// `Err` (logged and counted) when `address` is node-local and not exempt.
    pub fn check(&self, address: IpAddr) -> Result<(), NodeLocalRefused> {
        let address = address.to_canonical();
        if self.exempt.contains(&address) {
            return Ok(());
        }
        let reason = classify(address).or_else(|| {
            self.node_addresses()
                .contains(&address)
                .then_some(NodeLocalReason::NodeAddress)
        });
        let Some(reason) = reason else {
            return Ok(());
        };
        let refused = NodeLocalRefused { address, reason };
        tracing::warn!(%refused, "gateway upstream connection refused");
        let label = ReasonLabel {
            reason: reason.label(),
        };
        self.refused.get_or_create(&label).inc();
        Err(refused)
    }

    /// The node's interface addresses, read again once [`NODE_ADDRESSES_TTL`] has passed.
    fn node_addresses(&self) -> Vec<IpAddr> {
        let mut cached = self
            .node_addresses
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((read, addresses)) = cached.as_ref() {
            if read.elapsed() < NODE_ADDRESSES_TTL {
                return addresses.clone();
            }
        }
        let addresses = interface_addresses();
        *cached = Some((Instant::now(), addresses.clone()));
        addresses
    }
}

/// Why `address` is node-local by its form alone.
pub fn classify(address: IpAddr) -> Option<NodeLocalReason> {
    let not_unicast = address.is_unspecified() || address.is_multicast();
    match address {
        _ if address.is_loopback() => Some(NodeLocalReason::Loopback),
        _ if not_unicast => Some(NodeLocalReason::NotUnicast),
        IpAddr::V4(v4) if v4.is_broadcast() => Some(NodeLocalReason::NotUnicast),
        IpAddr::V4(v4) if v4.is_link_local() => Some(NodeLocalReason::LinkLocal),
        IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(NodeLocalReason::LinkLocal),
        _ => None,
    }
}

/// Every address of the current netns' interfaces (none when they cannot be read).
fn interface_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let ip = |a: nix::ifaddrs::InterfaceAddress| {
        let address = a.address?;
        let v4 = address.as_sockaddr_in().map(|s| IpAddr::V4(s.ip()));
        v4.or_else(|| address.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))
    };
    interfaces.filter_map(ip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_local_forms_are_classified() {
        let cases = [
            ("127.0.0.1", Some(NodeLocalReason::Loopback)),
            ("127.9.9.9", Some(NodeLocalReason::Loopback)),
            ("::1", Some(NodeLocalReason::Loopback)),
            ("::ffff:127.0.0.1", Some(NodeLocalReason::Loopback)),
            ("169.254.169.254", Some(NodeLocalReason::LinkLocal)),
            ("fe80::1", Some(NodeLocalReason::LinkLocal)),
            ("0.0.0.0", Some(NodeLocalReason::NotUnicast)),
            ("::", Some(NodeLocalReason::NotUnicast)),
            ("224.0.0.1", Some(NodeLocalReason::NotUnicast)),
            ("255.255.255.255", Some(NodeLocalReason::NotUnicast)),
            ("10.244.1.7", None),
            ("fd00:10:244:1::7", None),
        ];
        for (address, reason) in cases {
            let address: IpAddr = address.parse().unwrap();
            assert_eq!(classify(address.to_canonical()), reason, "{address}");
        }
    }

    #[test]
    fn the_guard_refuses_node_addresses_and_counts_by_reason() {
        let mut registry = Registry::default();
        let guard = NodeLocalGuard::register(&mut registry, vec!["127.0.0.2".parse().unwrap()]);
        assert!(guard.check("127.0.0.2".parse().unwrap()).is_ok(), "exempt");
        let refused = guard.check("127.0.0.1".parse().unwrap()).unwrap_err();
        assert_eq!(refused.reason, NodeLocalReason::Loopback);
        assert!(guard.check("203.0.113.9".parse().unwrap()).is_ok());
        // Whatever the machine's addresses, one of them (not loopback) is refused as the node's.
        let own = interface_addresses()
            .into_iter()
            .find(|a| classify(*a).is_none());
        if let Some(own) = own {
            let refused = guard.check(own).unwrap_err();
            assert_eq!(refused.reason, NodeLocalReason::NodeAddress, "{own}");
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("mesh_gateway_upstream_refused_total{reason=\"loopback\"} 1"),
            "{text}"
        );
    }
}
