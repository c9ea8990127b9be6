//! Downstream connection caps: at most `node` connections open through the pods' listeners
//! of this agent, and at most `per_pod` from (or to) any one pod (its `mesh.io/max-connections`
//! annotation overrides the flag for that pod), so one pod cannot take every file descriptor of
//! the node proxy. A connection past a cap is closed at once and counted in
//! `mesh_downstream_connections_refused_total{cap}`; the warning naming the pod is throttled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::handshakes::HandshakeRate;
use crate::throttle::Throttle;

/// Connections open through this agent's pod listeners, by default at most.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100_000;
/// Connections open from or to one pod, by default at most.
pub const DEFAULT_MAX_CONNECTIONS_PER_POD: usize = 10_000;

/// Which cap refused a connection.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Cap {
    /// The node's total.
    node,
    /// The pod's own.
    pod,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CapLabels {
    cap: Cap,
}

/// The caps and the connections they count.
#[derive(Debug)]
pub struct ConnectionCaps {
    node: usize,
    per_pod: usize,
    open: Mutex<Open>,
    refused: Family<CapLabels, Counter>,
    warnings: Throttle,
    /// The handshakes per second of each pod's tunnel port and each gateway client.
    pub handshakes: HandshakeRate,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_pod: HashMap<Arc<str>, usize>,
}

impl Default for ConnectionCaps {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_POD)
    }
}

impl ConnectionCaps {
    /// At most `node` connections in all, `per_pod` per pod; counters unregistered.
    pub fn new(node: usize, per_pod: usize) -> Self {
        Self {
            node,
            per_pod,
            open: Mutex::default(),
            refused: Family::default(),
            warnings: Throttle::default(),
            handshakes: HandshakeRate::default(),
        }
    }

    /// The same, with `per_second` handshakes a second per pod or gateway client.
    pub fn with_handshakes_per_second(self, per_second: u32) -> Self {
        self.handshakes.set_per_second(per_second);
        self
    }

    /// The same, its refusals counted in `registry`.
    pub fn register(self, registry: &mut Registry) -> Self {
        registry.register(
            "mesh_downstream_connections_refused",
            "Connections closed at accept because a cap was reached (node: all pods' \
             connections, pod: one pod's)",
            self.refused.clone(),
        );
        self.handshakes.register(registry);
        self
    }

    /// Admits one more connection of `pod` (`namespace/name`), whose own cap is `own` (its
    /// annotation; `None`: the flag's): the permit holds its place until dropped; `None` when a
    /// cap is reached (counted and warned about).
    pub fn admit(self: &Arc<Self>, pod: &Arc<str>, own: Option<usize>) -> Option<ConnectionPermit> {
        let per_pod = own.unwrap_or(self.per_pod);
        let mut open = self.open.lock().expect("not poisoned");
        let of_pod = open.by_pod.get(pod).copied().unwrap_or(0);
        let hit = match () {
            () if open.total >= self.node => Some((Cap::node, self.node)),
            () if of_pod >= per_pod => Some((Cap::pod, per_pod)),
            () => None,
        };
        if let Some((cap, max)) = hit {
            drop(open);
            self.refused.get_or_create(&CapLabels { cap }).inc();
            if let Some(suppressed) = self.warnings.allow() {
                tracing::warn!(%pod, ?cap, max, suppressed, "connection cap reached: closing new connections");
            }
            return None;
        }
        open.total += 1;
        open.by_pod.insert(pod.clone(), of_pod + 1);
        Some(ConnectionPermit {
            caps: self.clone(),
            pod: pod.clone(),
        })
    }

    /// Connections refused by `cap`.
    pub fn refused(&self, cap: Cap) -> u64 {
        self.refused.get_or_create(&CapLabels { cap }).get()
    }

    fn release(&self, pod: &Arc<str>) {
        let mut open = self.open.lock().expect("not poisoned");
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_pod.get_mut(pod) {
            *count -= 1;
            if *count == 0 {
                open.by_pod.remove(pod);
            }
        }
    }
}

/// One admitted connection's place under the caps, given back when dropped.
#[derive(Debug)]
pub struct ConnectionPermit {
    caps: Arc<ConnectionCaps>,
    pod: Arc<str>,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.caps.release(&self.pod);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_past_its_cap_is_refused_while_another_is_admitted_and_places_come_back() {
        let caps = Arc::new(ConnectionCaps::new(3, 2));
        let (a, b): (Arc<str>, Arc<str>) = ("shop/a".into(), "shop/b".into());
        let first = caps.admit(&a, None).unwrap();
        let _second = caps.admit(&a, None).unwrap();
        assert!(caps.admit(&a, None).is_none());
        assert_eq!(caps.refused(Cap::pod), 1);
        let _third = caps.admit(&b, None).unwrap();
        assert!(caps.admit(&b, None).is_none(), "the node's cap");
        assert_eq!(caps.refused(Cap::node), 1);
        drop(first);
        assert!(caps.admit(&a, None).is_some());
    }

    #[test]
    fn a_pod_s_own_cap_replaces_the_flag_for_it_alone() {
        let caps = Arc::new(ConnectionCaps::new(100, 2));
        let (a, b): (Arc<str>, Arc<str>) = ("shop/a".into(), "shop/b".into());
        let _a1 = caps.admit(&a, Some(1)).unwrap();
        assert!(caps.admit(&a, Some(1)).is_none(), "its annotation: 1");
        let _b: Vec<_> = (0..2).map(|_| caps.admit(&b, None).unwrap()).collect();
        assert!(caps.admit(&b, None).is_none(), "the flag: 2");
        let _a: Vec<_> = (0..4).map(|_| caps.admit(&a, Some(5)).unwrap()).collect();
    }
}
